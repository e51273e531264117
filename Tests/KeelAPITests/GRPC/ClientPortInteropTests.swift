import FoundationEssentials
import KeelAPI
import KeelTestSupport
import Testing

/// Real clients on the client port: Debian's etcdctl 3.4 (grpc-go) over HTTP/2 and curl over
/// HTTP/1.1, against the same listening socket.
@Suite struct ClientPortInteropTests {
    static let etcdctl = "/usr/bin/etcdctl"
    static let curl = "/usr/bin/curl"

    static func etcdctl(_ arguments: [String], port: Int) -> Subprocess.Outcome {
        Subprocess.run(
            etcdctl, ["--endpoints=127.0.0.1:\(port)", "--dial-timeout=5s", "--command-timeout=5s"] + arguments,
            environment: ["ETCDCTL_API=3", "PATH=/usr/bin:/bin"])
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: etcdctl)))
    func etcdctlPutThenGetReturnsTheValue() async throws {
        try await GRPCTestHarness.with { harness in
            let put = Self.etcdctl(["put", "k", "v"], port: harness.server.port)
            #expect(put.exitStatus == 0, "\(put.output)")
            #expect(put.output == "OK\n")
            let get = Self.etcdctl(["get", "k"], port: harness.server.port)
            #expect(get.exitStatus == 0, "\(get.output)")
            #expect(get.output == "k\nv\n")
            // etcdctl 3.4 calls nothing before its command: just Put, then Range.
            #expect(harness.service.calledPaths == ["/etcdserverpb.KV/Put", "/etcdserverpb.KV/Range"])
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: curl)))
    func http1RequestsOnTheSamePortGetTheDefault404() async throws {
        try await GRPCTestHarness.with { harness in
            let base = "http://127.0.0.1:\(harness.server.port)"
            let answer = Subprocess.run(
                Self.curl, ["-s", "-i", "--http1.1", "-X", "POST", "-d", "{}", base + "/v3/kv/range"], environment: [])
            #expect(answer.exitStatus == 0)
            #expect(answer.output.hasPrefix("HTTP/1.1 404 Not Found\r\n"), "\(answer.output)")
            #expect(answer.output.hasSuffix("\r\n\r\n404 page not found\n"))
            // Two requests on one kept-alive connection: curl says so in its verbose log.
            let twice = Subprocess.run(
                Self.curl, ["-s", "-v", "--http1.1", base + "/health", base + "/version"], environment: [])
            #expect(twice.exitStatus == 0)
            #expect(twice.output.components(separatedBy: "< HTTP/1.1 404 Not Found").count == 3, "\(twice.output)")
            #expect(twice.output.contains("Re-using existing connection"), "\(twice.output)")
            // gRPC keeps working on the same port afterwards.
            let client = try await harness.connect()
            let _: Etcdserverpb_RangeResponse = try await client.unary(
                "/etcdserverpb.KV/Range", Etcdserverpb_RangeRequest())
            try await client.close().get()
        }
    }
}

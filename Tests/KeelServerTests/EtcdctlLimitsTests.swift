import Foundation
import KeelAPI
import KeelTestSupport
import NIOCore
import NIOPosix
import Testing

/// Bad input gets etcd's error and changes nothing; flags as etcd takes them; snapshots and
/// restarts keep every write.
@Suite struct EtcdctlLimitsTests {
    @Test func oversizedRequestsAndTooManyTxnOpsChangeNothing() async throws {
        let keel = try KeelProcess()
        #expect(keel.etcdctl(["put", "k", "v"]).output == "OK\n")
        let ops = (0..<129).map { "put k\($0) v\n" }.joined()
        let tooMany = keel.etcdctl(["txn"], input: "\n" + ops + "\n\n")
        #expect(tooMany.exitStatus != 0 && tooMany.output.contains("etcdserver: too many operations in txn request"), "\(tooMany.output)")
        let justEnough = keel.etcdctl(["txn"], input: "\n" + (0..<128).map { "put k\($0) v\n" }.joined() + "\n\n")
        #expect(justEnough.exitStatus == 0 && justEnough.output.hasPrefix("SUCCESS"), "\(justEnough.output)")

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try await GRPCClient.connect(host: "127.0.0.1", port: keel.clientPort, group: group).get()
        for (size, message) in [(1_600_000, "etcdserver: request is too large"), (2_200_000, "")] {
            var put = Etcdserverpb_PutRequest()
            put.key = Data("big".utf8)
            put.value = Data(repeating: 1, count: size)
            let call: EventLoopFuture<Etcdserverpb_PutResponse> = client.unary("/etcdserverpb.KV/Put", put)
            do {
                _ = try await call.get()
                Issue.record("a put of \(size) bytes went through")
            } catch let status as GRPCStatus {
                if message.isEmpty {
                    #expect(status.code == .resourceExhausted, "\(status)")
                } else {
                    #expect(status.code == .invalidArgument && status.message == message, "\(status)")
                }
            }
        }
        try? await client.close().get()
        try await group.shutdownGracefully()
        // Only the put and the 128-op txn changed anything: revisions 2 and 3.
        let object = try JSONSerialization.jsonObject(with: Data(keel.etcdctl(["get", "big", "-w", "json"]).output.utf8))
        #expect(((object as? [String: Any])?["header"] as? [String: Any])?["revision"] as? Int == 3)
    }

    @Test func unknownFlagsAndBadValuesAreRefusedAsEtcdRefusesThem() {
        let unknown = Subprocess.run(KeelProcess.binaryPath, ["--bogus-flag"], environment: [])
        #expect(unknown.exitStatus == 2 && unknown.output.contains("flag provided but not defined: -bogus-flag"), "\(unknown.output)")
        let timeouts = Subprocess.run(KeelProcess.binaryPath, ["--heartbeat-interval", "500", "--election-timeout", "1000"], environment: [])
        #expect(timeouts.exitStatus != 0 && timeouts.output.contains("should be at least as 5 times as"), "\(timeouts.output)")
        let version = Subprocess.run(KeelProcess.binaryPath, ["--version"], environment: [])
        #expect(version.exitStatus == 0 && version.output.contains("etcd API Version: 3.5.0"), "\(version.output)")
    }

    /// With a snapshot every 50 entries, 200 writes make snapshots; a clean restart and a
    /// kill -9 both keep every write.
    @Test func snapshotsAndRestartsKeepEveryWrite() throws {
        let keel = try KeelProcess(["--snapshot-count", "50"])
        for i in 0..<100 { #expect(keel.etcdctl(["put", "key\(i)", "v\(i)"]).output == "OK\n") }
        #expect(keel.stop() == 0)
        #expect(keel.log.contains("\"msg\":\"saved snapshot\""), "no snapshot was recorded")
        try keel.start()
        for i in 100..<200 { #expect(keel.etcdctl(["put", "key\(i)", "v\(i)"]).output == "OK\n") }
        keel.kill()
        try keel.start()
        let values = keel.etcdctl(["get", "key", "--prefix", "--print-value-only"]).output.split(separator: "\n")
        #expect(Set(values) == Set((0..<200).map { Substring("v\($0)") }))
        let object = try JSONSerialization.jsonObject(with: Data(keel.etcdctl(["get", "key0", "-w", "json"]).output.utf8))
        #expect(((object as? [String: Any])?["header"] as? [String: Any])?["revision"] as? Int == 201)
    }
}

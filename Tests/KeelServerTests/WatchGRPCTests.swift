#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelAPI
import KeelTestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import KeelMVCC
@testable import KeelServer

/// The Watch service over gRPC against an in-process node, request by request as etcd 3.5's
/// v3rpc/watch.go answers them: ids, cancel, progress, filters, fragments, refusals.
@Suite struct WatchGRPCTests {
    @Test func createEventsCancelAndIDs() async throws {
        let harness = try await WatchHarness()
        defer { harness.stop() }
        let stream = harness.openWatch()
        stream.create(key: "a")  // the server picks 0
        stream.create(key: "b", rangeEnd: "c", watchID: 7)
        stream.create(key: "x", watchID: 7)  // taken: refused
        stream.create(key: "x")  // the server picks 1 (0 is taken)
        try stream.waitFor { $0.count >= 4 }
        let created = stream.responses
        #expect(created.map(\.watchID) == [0, 7, -1, 1])
        #expect(created.allSatisfy { $0.created })
        #expect(created[2].canceled && created[2].cancelReason == "mvcc: duplicate watch ID provided on the WatchStream")
        #expect(created[0].header.clusterID == harness.node.clusterID && created[0].header.memberID == harness.node.memberID)
        #expect(created[0].header.raftTerm >= 1 && created[0].header.revision == 1)

        try await harness.put("a", "1")  // 2
        try await harness.put("b1", "2")  // 3
        try await harness.put("c", "3")  // 4: outside [b, c)
        try await harness.delete("a")  // 5
        try stream.waitFor { $0.count >= 7 }
        let events = Array(stream.responses.dropFirst(4))
        #expect(events.map(\.watchID) == [0, 7, 0])
        #expect(events.map { $0.events.map { String(decoding: $0.kv.key, as: UTF8.self) } } == [["a"], ["b1"], ["a"]])
        #expect(events[2].events[0].type == .delete && events[2].events[0].kv.modRevision == 5)
        #expect(events.map(\.header.revision) == [2, 3, 5])

        // Cancel: answered for a watcher that exists, silently ignored otherwise.
        stream.cancel(7)
        stream.cancel(42)
        try stream.waitFor { $0.count >= 8 }
        let canceled = stream.responses[7]
        #expect(canceled.watchID == 7 && canceled.canceled && !canceled.created && canceled.cancelReason.isEmpty)
        try await harness.put("b2", "gone")
        try await harness.put("a", "again")
        try stream.waitFor { $0.count >= 9 }
        #expect(stream.responses.count == 9 && stream.responses[8].watchID == 0)
    }

    @Test func filtersPrevKVAndRefusals() async throws {
        let harness = try await WatchHarness()
        defer { harness.stop() }
        try await harness.put("f", "1")  // 2
        let stream = harness.openWatch()
        stream.create(key: "f", filters: [.noput], prevKV: true, startRevision: 2)
        stream.create(key: "f", filters: [.nodelete], startRevision: 2)
        stream.create(key: "z", startRevision: -1)
        stream.create(key: "b", rangeEnd: "a")
        try await harness.put("f", "2")  // 3
        try await harness.delete("f")  // 4
        try stream.waitFor { responses in
            responses.filter { $0.watchID == 0 }.flatMap(\.events).count == 1
                && responses.filter { $0.watchID == 1 }.flatMap(\.events).count == 2
                && responses.filter { $0.watchID == -1 }.count == 2
        }
        let byID = Dictionary(grouping: stream.responses, by: \.watchID)
        let noPut = try #require(byID[0]).filter { !$0.events.isEmpty }
        #expect(noPut.count == 1 && noPut[0].events[0].type == .delete)
        #expect(String(decoding: noPut[0].events[0].prevKv.value, as: UTF8.self) == "2")
        let noDelete = try #require(byID[1]).flatMap(\.events)
        #expect(noDelete.map { String(decoding: $0.kv.value, as: UTF8.self) } == ["1", "2"])
        #expect(noDelete.allSatisfy { !$0.hasPrevKv })
        let refused = try #require(byID[-1])
        #expect(Set(refused.map(\.cancelReason))
                == ["etcdserver: mvcc: required revision has been compacted", "mvcc: watcher range is empty"])
        #expect(refused.allSatisfy { $0.created && $0.canceled })
    }

    @Test func progressRequestAndProgressNotify() async throws {
        let harness = try await WatchHarness(progressIntervalMilliseconds: 200)
        defer { harness.stop() }
        try await harness.put("p", "1")
        let stream = harness.openWatch()
        stream.create(key: "p", progressNotify: true)
        stream.create(key: "q")
        try stream.waitFor { $0.count >= 2 }
        stream.requestProgress()
        try stream.waitFor { $0.contains { $0.watchID == -1 } }
        let progress = try #require(stream.responses.first { $0.watchID == -1 })
        #expect(progress.header.revision == 2 && progress.events.isEmpty && !progress.created && !progress.canceled)
        // With nothing written, the progress_notify watcher (only it) hears the revision at the
        // server's interval.
        try stream.waitFor { $0.contains { $0.watchID == 0 && !$0.created } }
        let notified = stream.responses.filter { !$0.created && $0.watchID >= 0 }
        #expect(notified.allSatisfy { $0.watchID == 0 && $0.events.isEmpty && $0.header.revision == 2 })
    }

    @Test func largeResponsesAreFragmentedOnRequest() async throws {
        // Three transactions of 4 × 300 KiB (revisions 2-4), then watchers from revision 2:
        // the catch-up from history sends all 12 events (3.6 MB) as one response, above etcd's
        // fragment size (1.5 MiB + 512 KiB).
        let harness = try await WatchHarness()
        defer { harness.stop() }
        for round in 0..<3 {
            var txn = Etcdserverpb_TxnRequest()
            for i in 0..<4 {
                var op = Etcdserverpb_RequestOp()
                op.requestPut.key = Data("big\(round)-\(i)".utf8)
                op.requestPut.value = Data(repeating: UInt8(i), count: 300 * 1024)
                txn.success.append(op)
            }
            _ = try await harness.client.unary("/etcdserverpb.KV/Txn", txn, as: Etcdserverpb_TxnResponse.self)
        }
        let stream = harness.openWatch()
        stream.create(key: "big", rangeEnd: "bih", fragment: true, startRevision: 2)
        stream.create(key: "big", rangeEnd: "bih", watchID: 5, startRevision: 2)
        try stream.waitFor { responses in
            responses.filter { $0.watchID == 0 }.flatMap(\.events).count == 12
                && responses.filter { $0.watchID == 5 }.flatMap(\.events).count == 12
        }
        let pieces = stream.responses.filter { $0.watchID == 0 && !$0.events.isEmpty }
        let whole = stream.responses.filter { $0.watchID == 5 && !$0.events.isEmpty }
        #expect(pieces.count >= 2, "\(pieces.map(\.events.count))")
        #expect(pieces.dropLast().allSatisfy { $0.fragment } && pieces.last?.fragment == false)
        for piece in pieces { #expect((try piece.serializedBytes() as [UInt8]).count < 2 * 1024 * 1024 + 310 * 1024) }
        #expect(whole.allSatisfy { !$0.fragment })
        #expect(pieces.flatMap(\.events) == whole.flatMap(\.events))
    }

    @Test func compactedStartIsCanceledWithTheCompactRevision() async throws {
        let harness = try await WatchHarness()
        defer { harness.stop() }
        for i in 0..<4 { try await harness.put("c", "v\(i)") }  // revisions 2-5
        var compact = Etcdserverpb_CompactionRequest()
        compact.revision = 4
        _ = try await harness.client.unary("/etcdserverpb.KV/Compact", compact, as: Etcdserverpb_CompactionResponse.self)
        let stream = harness.openWatch()
        stream.create(key: "c", startRevision: 3)
        stream.create(key: "c", startRevision: 4)
        try stream.waitFor { responses in responses.count >= 3 && responses.filter { $0.watchID == 1 }.flatMap(\.events).count == 2 }
        let compacted = try #require(stream.responses.first { $0.watchID == 0 && !$0.created })
        // etcd: compact_revision and canceled, no reason, a header without revision.
        #expect(compacted.canceled && compacted.compactRevision == 4 && compacted.cancelReason.isEmpty)
        #expect(compacted.header.revision == 0 && compacted.header.memberID == harness.node.memberID)
        #expect(stream.responses.filter { $0.watchID == 1 }.flatMap(\.events).map(\.kv.modRevision) == [4, 5])
    }

    @Test func gatewayStreamEndsWithItsConnection() async throws {
        let harness = try await WatchHarness()
        defer { harness.stop() }
        try await harness.put("g", "1")
        let url = "http://127.0.0.1:\(harness.server.port)"
        // Two requests in one body (one per line): both watchers answer on the one stream.
        let body = #"{"create_request":{"key":"Zw==","start_revision":"2"}}"# + "\n" + #"{"create_request":{"key":"Zw==","watch_id":"9"}}"#
        let outcome = Subprocess.run(KeelProcess.curlPath, ["-s", "-i", "-N", "--max-time", "2", "-X", "POST", "-d", body, url + "/v3beta/watch"],
                                     environment: ["PATH=/usr/bin:/bin"])
        // curl gave up at its --max-time (28); the server streamed until then.
        #expect(outcome.exitStatus == 28, "\(outcome.output)")
        let lines = outcome.output.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map(String.init)
        #expect(lines.first == "HTTP/1.1 200 OK")
        #expect(lines.contains { $0.lowercased() == "transfer-encoding: chunked" } && lines.contains { $0.lowercased() == "content-type: application/json" })
        let results = lines.filter { $0.hasPrefix("{\"result\":") }
        #expect(results.count == 3, "\(outcome.output)")
        #expect(results.filter { $0.contains(#""created":true"#) }.count == 2 && results.contains { $0.contains(#""watch_id":"9""#) })
        #expect(results.contains { $0.contains(#""events":[{"kv":{"key":"Zw==""#) })
        // Its watchers are gone once curl's connection closed.
        let hub = harness.node.keySpace.watches
        for _ in 0..<500 where hub.state.withLock({ $0.streams.count }) > 0 { usleep(10_000) }
        #expect(hub.state.withLock { $0.streams.count } == 0)

        // A first request that is not JSON is refused before any watch starts, as grpc-gateway does.
        let refused = Subprocess.run(KeelProcess.curlPath, ["-s", "-i", "--max-time", "5", "-X", "POST", "-d", "{nope", url + "/v3/watch"],
                                     environment: ["PATH=/usr/bin:/bin"])
        #expect(refused.output.hasPrefix("HTTP/1.1 500"), "\(refused.output)")
        #expect(hub.state.withLock { $0.streams.count } == 0)
    }

    @Test func closingTheStreamReleasesItsWatchers() async throws {
        let harness = try await WatchHarness()
        defer { harness.stop() }
        let stream = harness.openWatch()
        for i in 0..<50 { stream.create(key: "r\(i)", startRevision: 1) }
        try stream.waitFor { $0.count >= 50 }
        let hub = harness.node.keySpace.watches
        // Half-closing keeps the stream (etcd keeps sending).
        stream.call.finish()
        try await harness.put("r1", "x")
        try stream.waitFor { $0.count >= 51 }
        stream.call.cancel()
        // The hub forgets them: a new stream's first watcher gets id 0 and nothing else is queued.
        for _ in 0..<500 where hub.state.withLock({ $0.streams.count }) > 0 { usleep(10_000) }
        #expect(hub.state.withLock { $0.streams.count } == 0)
    }
}

/// A node in this process serving gRPC on a free port, and a client connected to it.
final class WatchHarness {
    let node: KeelNode
    let server: GRPCServer
    let client: GRPCClient
    let group: MultiThreadedEventLoopGroup
    let pool: NIOThreadPool
    let directory: TemporaryDirectory

    init(progressIntervalMilliseconds: Int64? = nil) async throws {
        directory = TemporaryDirectory("keel-watch-grpc")
        var options = NodeOptions(dataDirectory: directory.path)
        options.walIO = .sync
        if let interval = progressIntervalMilliseconds { options.watchProgressNotifyIntervalNanoseconds = interval * 1_000_000 }
        node = try KeelNode.start(options, logger: ServerLogger(minimumLevel: .error, sink: { _ in }))
        node.waitUntilServing()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let metrics = EtcdMetrics()
        let routes = node.routes(pool: pool, metrics: metrics)
        let gateway = GatewayResponder(routes: routes, metrics: metrics, serverVersion: "3.5.0", clusterVersion: { "3.5.0" },
                                       health: { _, loop in loop.makeSucceededFuture(HealthStatus(healthy: true)) })
        server = try await GRPCServer.start(host: "127.0.0.1", port: 0, group: group, methods: routes.grpcMethods,
                                            http1: gateway).get()
        var configuration = GRPCConnectionConfiguration()
        configuration.messageBytesMax = 16 << 20
        client = try await GRPCClient.connect(host: "127.0.0.1", port: server.port, group: group,
                                              configuration: configuration).get()
    }

    func openWatch() -> WatchClientStream { WatchClientStream(client) }

    func put(_ key: String, _ value: String) async throws {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data(value.utf8)
        _ = try await client.unary("/etcdserverpb.KV/Put", request, as: Etcdserverpb_PutResponse.self)
    }

    func delete(_ key: String) async throws {
        var request = Etcdserverpb_DeleteRangeRequest()
        request.key = Data(key.utf8)
        _ = try await client.unary("/etcdserverpb.KV/DeleteRange", request, as: Etcdserverpb_DeleteRangeResponse.self)
    }

    func stop() {
        try? client.close().wait()
        try? server.close().wait()
        node.stop()
        try? pool.syncShutdownGracefully()
        try? group.syncShutdownGracefully()
        directory.remove()
    }
}

/// One client Watch stream collecting every response.
final class WatchClientStream: Sendable {
    let call: GRPCClientStreamingCall<Etcdserverpb_WatchRequest>
    private let received: ResponseLog

    final class ResponseLog: Sendable {
        let responses = Mutex<[Etcdserverpb_WatchResponse]>([])
    }

    init(_ client: GRPCClient) {
        let received = ResponseLog()
        self.received = received
        call = client.bidirectionalStreaming(
            "/etcdserverpb.Watch/Watch", Etcdserverpb_WatchRequest.self, Etcdserverpb_WatchResponse.self
        ) { response in received.responses.withLock { $0.append(response) } }
    }

    var responses: [Etcdserverpb_WatchResponse] { received.responses.withLock { $0 } }

    func create(key: String, rangeEnd: String? = nil, watchID: Int64 = 0, filters: [Etcdserverpb_WatchCreateRequest.FilterType] = [],
                prevKV: Bool = false, progressNotify: Bool = false, fragment: Bool = false, startRevision: Int64 = 0) {
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data(key.utf8)
        if let rangeEnd { create.rangeEnd = Data(rangeEnd.utf8) }
        create.watchID = watchID
        create.filters = filters
        create.prevKv = prevKV
        create.progressNotify = progressNotify
        create.fragment = fragment
        create.startRevision = startRevision
        var request = Etcdserverpb_WatchRequest()
        request.createRequest = create
        _ = call.send(request)
    }

    func cancel(_ watchID: Int64) {
        var request = Etcdserverpb_WatchRequest()
        request.cancelRequest.watchID = watchID
        _ = call.send(request)
    }

    func requestProgress() {
        var request = Etcdserverpb_WatchRequest()
        request.progressRequest = Etcdserverpb_WatchProgressRequest()
        _ = call.send(request)
    }

    /// Waits (at most 20 s) until `condition` holds for the responses so far.
    func waitFor(_ condition: ([Etcdserverpb_WatchResponse]) -> Bool) throws {
        for _ in 0..<2000 {
            if condition(responses) { return }
            usleep(10_000)
        }
        throw WatchTestTimeout(responses: responses.count)
    }
}

struct WatchTestTimeout: Error, CustomStringConvertible {
    let responses: Int
    var description: String { "timed out after \(responses) responses" }
}

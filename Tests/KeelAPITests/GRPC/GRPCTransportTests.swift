import FoundationEssentials
import KeelAPI
import NIOCore
import NIOPosix
import Testing

/// Keel's gRPC client against Keel's gRPC server on loopback, with the test KV service.
@Suite struct GRPCTransportTests {
    static func put(_ key: String, _ value: Data) -> Etcdserverpb_PutRequest {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = value
        return request
    }

    static func range(_ key: String) -> Etcdserverpb_RangeRequest {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key.utf8)
        return request
    }

    @Test func putThenRangeReturnsTheValue() async throws {
        try await GRPCTestHarness.with { harness in
            let etcdPaths = Set(EtcdMethod.all.map(\.path))
            #expect(harness.service.methods.paths.allSatisfy(etcdPaths.contains))
            let client = try await harness.connect()
            let put: Etcdserverpb_PutResponse = try await client.unary(
                "/etcdserverpb.KV/Put", Self.put("k", Data("v".utf8)))
            #expect(put.header.revision == 2)
            let got: Etcdserverpb_RangeResponse = try await client.unary("/etcdserverpb.KV/Range", Self.range("k"))
            #expect(got.kvs.map(\.value) == [Data("v".utf8)])
            #expect(got.kvs.first?.modRevision == 2)
            try await client.close().get()
        }
    }

    /// A finished call lets go of its stream handler (and the frame buffers it held): a handler
    /// kept alive by its own call's closures once cost every unary call a 16 KiB buffer.
    @Test func finishedCallsReleaseTheirStreamHandlers() async throws {
        try await GRPCTestHarness.with { harness in
            let client = try await harness.connect()
            for i in 0..<200 {
                let _: Etcdserverpb_PutResponse = try await client.unary("/etcdserverpb.KV/Put", Self.put("k\(i)", Data("v".utf8)))
            }
            // Stream channels close on the server's loop after the trailers went out.
            for _ in 0..<500 where harness.server.liveStreams > 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(harness.server.liveStreams == 0)
            try await client.close().get()
        }
    }

    @Test func twoThousandSequentialCallsThenTwoHundredConcurrentOnOneConnection() async throws {
        try await GRPCTestHarness.with { harness in
            let client = try await harness.connect()
            for index in 0..<2_000 {
                let response: Etcdserverpb_PutResponse = try await client.unary(
                    "/etcdserverpb.KV/Put", Self.put("key\(index % 10)", Data("\(index)".utf8)))
                #expect(response.header.revision == Int64(index) + 2)
            }
            let futures = (0..<200).map { index -> EventLoopFuture<Etcdserverpb_RangeResponse> in
                client.unary("/etcdserverpb.KV/Range", Self.range("key\(index % 10)"))
            }
            for (index, future) in futures.enumerated() {
                let response = try await future.get()
                // The last sequential put to key i%10 carried 1990 + i%10.
                #expect(response.kvs.map(\.value) == [Data("\(1_990 + index % 10)".utf8)])
            }
            #expect(client.channel.isActive)
            try await client.close().get()
        }
    }

    @Test func watchEchoesEachCreateRequestAndEndsWhenTheClientDoes() async throws {
        try await GRPCTestHarness.with { harness in
            let client = try await harness.connect()
            let received = Collected<Etcdserverpb_WatchResponse>([])
            let call = client.bidirectionalStreaming(
                "/etcdserverpb.Watch/Watch", Etcdserverpb_WatchRequest.self, Etcdserverpb_WatchResponse.self
            ) { response in received.append(response) }
            for key in ["a", "b", "c"] {
                var request = Etcdserverpb_WatchRequest()
                var create = Etcdserverpb_WatchCreateRequest()
                create.key = Data(key.utf8)
                request.createRequest = create
                try await call.send(request).get()
            }
            call.finish()
            let status = try await call.status.get()
            #expect(status == .ok)
            let responses = received.value
            #expect(responses.map(\.watchID) == [0, 1, 2])
            #expect(responses.map { $0.events.first?.kv.key } == ["a", "b", "c"].map { Data($0.utf8) })
            try await client.close().get()
        }
    }

    /// A client that resets its Watch stream (clientv3 cancelling a watch context) must be
    /// heard by the handler, or the node would keep feeding a dead watcher.
    @Test func clientResetReachesTheStreamingHandlerAsCancelled() async throws {
        try await GRPCTestHarness.with { harness in
            let client = try await harness.connect()
            let received = Collected<Etcdserverpb_WatchResponse>([])
            let call = client.bidirectionalStreaming(
                "/etcdserverpb.Watch/Watch", Etcdserverpb_WatchRequest.self, Etcdserverpb_WatchResponse.self
            ) { response in received.append(response) }
            var request = Etcdserverpb_WatchRequest()
            request.createRequest = Etcdserverpb_WatchCreateRequest()
            try await call.send(request).get()
            call.cancel()
            let status = try await call.status.get()
            #expect(status.code == .unavailable)
            // The reset travels to the server asynchronously: wait for it, boundedly.
            for _ in 0..<500 where harness.service.watchCancellations.load(ordering: .relaxed) == 0 {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(harness.service.watchCancellations.load(ordering: .relaxed) == 1)
            try await client.close().get()
        }
    }

    @Test func snapshotStreamPausesOnWritabilityAndDeliversEveryChunkInOrder() async throws {
        try await GRPCTestHarness.with { harness in
            let client = try await harness.connect()
            let received = Collected<Etcdserverpb_SnapshotResponse>([])
            let call = client.bidirectionalStreaming(
                "/etcdserverpb.Maintenance/Snapshot", Etcdserverpb_SnapshotRequest.self,
                Etcdserverpb_SnapshotResponse.self
            ) { response in received.append(response) }
            try await call.send(Etcdserverpb_SnapshotRequest()).get()
            call.finish()
            #expect(try await call.status.get() == .ok)
            let chunks = received.value
            #expect(chunks.count == TestKVService.snapshotChunks)
            #expect(chunks.map { $0.blob.first } == (0..<TestKVService.snapshotChunks).map { UInt8($0) })
            #expect(chunks.allSatisfy { $0.blob.count == TestKVService.snapshotChunkBytes })
            // 4 MiB against a 1 MiB window and a 64 KiB watermark: the sender had to wait.
            #expect(harness.service.snapshotPauses.load(ordering: .relaxed) > 0)
            try await client.close().get()
        }
    }

    @Test func handlerErrorsReachTheClientWithTheirMessageIntact() async throws {
        try await GRPCTestHarness.with { harness in
            let client = try await harness.connect()
            let call: EventLoopFuture<Etcdserverpb_DeleteRangeResponse> = client.unary(
                "/etcdserverpb.KV/DeleteRange", Etcdserverpb_DeleteRangeRequest())
            await #expect(throws: GRPCStatus(.invalidArgument, "etcdserver: key is not provided (100% ✓)")) {
                try await call.get()
            }
            try await client.close().get()
        }
    }

    @Test func callPastItsGRPCTimeoutIsDeadlineExceeded() async throws {
        try await GRPCTestHarness.with { harness in
            let client = try await harness.connect()
            var request = Etcdserverpb_DeleteRangeRequest()
            request.key = Data("slow".utf8)
            let call: EventLoopFuture<Etcdserverpb_DeleteRangeResponse> = client.unary(
                "/etcdserverpb.KV/DeleteRange", request, timeout: .milliseconds(20))
            await #expect(throws: GRPCStatus(.deadlineExceeded, "context deadline exceeded")) {
                try await call.get()
            }
            // The handler's late answer is dropped and the connection keeps serving.
            let _: Etcdserverpb_DeleteRangeResponse = try await client.unary(
                "/etcdserverpb.KV/DeleteRange", request)
            try await client.close().get()
        }
    }

    @Test func closingTheServerClosesItsConnections() async throws {
        try await GRPCTestHarness.with { harness in
            let client = try await harness.connect()
            let _: Etcdserverpb_RangeResponse = try await client.unary("/etcdserverpb.KV/Range", Self.range("k"))
            try await harness.server.close().get()
            let after: EventLoopFuture<Etcdserverpb_RangeResponse> = client.unary(
                "/etcdserverpb.KV/Range", Self.range("k"))
            let refused: Bool
            do { _ = try await after.get(); refused = false } catch { refused = true }
            #expect(refused, "a call succeeded on a connection of a closed server")
            if refused {
                try await client.channel.closeFuture.get()
            }
        }
    }

    @Test func unknownMethodIsUnimplemented() async throws {
        try await GRPCTestHarness.with { harness in
            let client = try await harness.connect()
            let call: EventLoopFuture<Etcdserverpb_RangeResponse> = client.unary(
                "/etcdserverpb.KV/NoSuchMethod", Self.range("k"))
            await #expect(throws: GRPCStatus(.unimplemented, "unknown method /etcdserverpb.KV/NoSuchMethod")) {
                try await call.get()
            }
            // The connection keeps serving.
            let _: Etcdserverpb_RangeResponse = try await client.unary("/etcdserverpb.KV/Range", Self.range("k"))
            try await client.close().get()
        }
    }

    @Test func messageNearTheLimitPassesAndOneOverItIsResourceExhausted() async throws {
        let configuration = GRPCConnectionConfiguration()
        try await GRPCTestHarness.with(configuration: configuration) { harness in
            let client = try await harness.connect()
            // Key, value and field tags take a few bytes beyond the value itself.
            let near = Data(repeating: 7, count: configuration.messageBytesMax - 64)
            let _: Etcdserverpb_PutResponse = try await client.unary("/etcdserverpb.KV/Put", Self.put("big", near))
            let got: Etcdserverpb_RangeResponse = try await client.unary("/etcdserverpb.KV/Range", Self.range("big"))
            #expect(got.kvs.first?.value == near)

            let over = Data(repeating: 7, count: configuration.messageBytesMax + 1)
            let call: EventLoopFuture<Etcdserverpb_PutResponse> = client.unary("/etcdserverpb.KV/Put", Self.put("big", over))
            await #expect {
                try await call.get()
            } throws: { error in
                (error as? GRPCStatus)?.code == .resourceExhausted
            }
            let after: Etcdserverpb_RangeResponse = try await client.unary("/etcdserverpb.KV/Range", Self.range("big"))
            #expect(after.kvs.first?.value == near)
            try await client.close().get()
        }
    }

    /// 1,000 PINGs within a second (grpc-go's BDP pings for 1,000 calls) must not trip the
    /// limit. The same flood against a limit of 200 a second (the scale of swift-nio-http2's
    /// default, 200 per 30 s) gets GOAWAY(ENHANCE_YOUR_CALM): the next call fails.
    @Test(arguments: [10_000, 200])
    func pingFloodOfAThousandKeepsTheConnectionOnlyUnderTheRaisedLimit(limit: Int) async throws {
        var serverConfiguration = GRPCConnectionConfiguration()
        serverConfiguration.controlFramesPerSecondMax = limit
        try await GRPCTestHarness.with(configuration: serverConfiguration) { harness in
            let client = try await harness.connect()
            let _: Etcdserverpb_RangeResponse = try await client.unary("/etcdserverpb.KV/Range", Self.range("k"))
            // Raw PING frames on the connection's channel, past the client's own HTTP/2.
            var pings = ByteBuffer()
            for index in 0..<1_000 {
                pings.writeBytes([0, 0, 8, 6, 0, 0, 0, 0, 0])  // PING, 8 bytes, stream 0
                pings.writeInteger(UInt64(index))
            }
            client.channel.writeAndFlush(pings, promise: nil)
            let call: EventLoopFuture<Etcdserverpb_RangeResponse> = client.unary("/etcdserverpb.KV/Range", Self.range("k"))
            let survived: Bool
            do {
                _ = try await call.get()
                survived = true
            } catch {
                survived = false
            }
            #expect(survived == (limit >= 1_000))
            // After a GOAWAY the channel may already be closed.
            try? await client.close().get()
        }
    }
}

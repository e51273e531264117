import FoundationEssentials
@testable import KeelAPI
import NIOCore
import NIOEmbedded
import NIOHPACK
import Testing

/// Keel's HTTP/2 client against a scripted server on an embedded channel: every frame the
/// client writes is checked, every frame it reads is chosen by the test.
@Suite struct GRPCClientConnectionTests {
    typealias Server = ScriptedHTTP2Server
    static let range = "/etcdserverpb.KV/Range"
    static let watch = "/etcdserverpb.Watch/Watch"

    static func rangeRequest(_ key: String) -> Etcdserverpb_RangeRequest {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key.utf8)
        return request
    }

    static func rangeResponse(_ value: String) -> Etcdserverpb_RangeResponse {
        var response = Etcdserverpb_RangeResponse()
        var kv = Mvccpb_KeyValue()
        kv.key = Data("k".utf8)
        kv.value = Data(value.utf8)
        response.kvs = [kv]
        response.count = 1
        return response
    }

    func range(_ server: Server, _ key: String = "k", timeout: TimeAmount? = nil) -> Outcome<Etcdserverpb_RangeResponse> {
        Outcome(server.client.unary(Self.range, Self.rangeRequest(key), timeout: timeout))
    }

    @Test func sendsPrefaceSettingsAndWindowThenAcknowledgesTheServersSettings() throws {
        var configuration = GRPCConnectionConfiguration()
        configuration.streamWindowBytes = 300_000
        configuration.connectionWindowBytes = 5_000_000
        let server = try Server(configuration: configuration)
        let first = try server.frames()
        try #require(first.map(\.header.kind) == [.settings, .windowUpdate])
        var settings = first[0].payload
        var values: [UInt16: UInt32] = [:]
        while let id = settings.readInteger(as: UInt16.self), let value = settings.readInteger(as: UInt32.self) {
            values[id] = value
        }
        #expect(values == [4: 300_000, 6: 16_384, 2: 0])
        #expect(first[1].header.streamID == 0)
        #expect(first[1].payload.getInteger(at: first[1].payload.readerIndex, as: UInt32.self) == UInt32(5_000_000 - 65_535))

        try server.send { $0.writeHTTP2Settings([(.maxConcurrentStreams, 100)]) }
        let ack = try server.frames()
        #expect(ack.count == 1)
        #expect(ack.first?.header.kind == .settings && ack.first?.header.flags == HTTP2Wire.Flags.ack)
        #expect(ack.first?.header.length == 0)
        // The server's acknowledgement of ours needs no answer.
        try server.send { $0.writeHTTP2Settings([], ack: true) }
        #expect(try server.frames().isEmpty)
    }

    /// A call made before the connection is up waits for it, and goes out after the preface.
    @Test func callMadeBeforeTheConnectionIsUpWaitsForIt() throws {
        let server = try Server(connected: false)
        let call = range(server)
        server.channel.embeddedEventLoop.run()
        #expect(try server.channel.readOutbound(as: ByteBuffer.self) == nil)
        try server.connect()
        let frames = try server.frames()
        #expect(frames.map(\.header.kind) == [.settings, .windowUpdate, .headers, .data])
        try server.send { $0.writeHTTP2Settings([]) }
        try server.respond(stream: 1, Self.rangeResponse("v"))
        #expect(call.value?.kvs.first?.value == Data("v".utf8))
    }

    @Test func answersPingWithTheSameBytesAndIgnoresPingAcks() throws {
        let server = try Server()
        try server.handshake()
        var data = ByteBuffer()
        data.writeInteger(UInt64(0x0102_0304_0506_0708))
        try server.send { $0.writeHTTP2FrameHeader(length: 8, type: .ping, flags: 0, streamID: 0); $0.writeImmutableBuffer(data) }
        let answer = try server.frames()
        #expect(answer.count == 1)
        #expect(answer.first?.header.kind == .ping && answer.first?.header.flags == HTTP2Wire.Flags.ack)
        #expect(answer.first?.payload == data)
        try server.send { $0.writeHTTP2PingAck(data) }
        #expect(try server.frames().isEmpty)
    }

    /// The request's headers and message as sent; a response whose header block spans
    /// HEADERS (padded, with priority) and two CONTINUATIONs, a PRIORITY frame and a frame
    /// of an unknown type, and a message split over a padded DATA and a plain one.
    @Test func unaryCallReadsHeadersAcrossContinuationAndMessagesAcrossPaddedData() throws {
        let server = try Server()
        try server.handshake()
        let call = range(server, "wanted", timeout: .milliseconds(1_500))
        let request = try server.frames()
        try #require(request.map(\.header.kind) == [.headers, .data])
        #expect(request.map(\.header.streamID) == [1, 1])
        #expect(request[0].payload.getInteger(at: request[0].payload.readerIndex, as: UInt8.self) == 0x20)
        let headers = try server.requestHeaders(request[0])
        #expect(Array(headers.map { "\($0.name): \($0.value)" }) == [
            ":method: POST", ":scheme: http", ":path: /etcdserverpb.KV/Range", ":authority: keel.test:2379",
            "content-type: application/grpc", "te: trailers", "user-agent: keel-grpc", "grpc-timeout: 1500000u",
        ])
        #expect(request[0].header.flags == HTTP2Wire.Flags.endHeaders)
        #expect(request[1].header.flags == HTTP2Wire.Flags.endStream)
        #expect(try Server.message(request[1], as: Etcdserverpb_RangeRequest.self).key == Data("wanted".utf8))

        var block = try server.block([(":status", "200"), ("content-type", "application/grpc"), ("x-filler", "abcdefgh")])
        let first = block.readSlice(length: 10)!, second = block.readSlice(length: 10)!, third = block
        try server.send { bytes in
            // HEADERS: pad length 3, priority (5 bytes), 10 bytes of block, 3 of padding.
            let flags = HTTP2Wire.Flags.padded | HTTP2Wire.Flags.priority
            bytes.writeHTTP2FrameHeader(length: 1 + 5 + 10 + 3, type: .headers, flags: flags, streamID: 1)
            bytes.writeInteger(UInt8(3))
            bytes.writeBytes([0, 0, 0, 0, 16])
            bytes.writeImmutableBuffer(first)
            bytes.writeBytes([0, 0, 0])
            bytes.writeHTTP2FrameHeader(length: 10, type: .continuation, flags: 0, streamID: 1)
            bytes.writeImmutableBuffer(second)
            bytes.writeHTTP2FrameHeader(length: third.readableBytes, type: .continuation, flags: HTTP2Wire.Flags.endHeaders, streamID: 1)
            bytes.writeImmutableBuffer(third)
            bytes.writeHTTP2FrameHeader(length: 5, type: .priority, flags: 0, streamID: 1)
            bytes.writeBytes([0, 0, 0, 0, 1])
            bytes.writeBytes([0, 0, 2, 0xFA, 0, 0, 0, 0, 1, 0xAB, 0xCD])  // type 0xFA: unknown
        }
        var framed = GRPCMessageFramer.frame(try Self.rangeResponse("found").serializedBytes() as [UInt8], allocator: .init())
        let head = framed.readSlice(length: 7)!
        try server.send { bytes in
            bytes.writeHTTP2FrameHeader(length: 1 + 7 + 200, type: .data, flags: HTTP2Wire.Flags.padded, streamID: 1)
            bytes.writeInteger(UInt8(200))
            bytes.writeImmutableBuffer(head)
            bytes.writeRepeatingByte(0, count: 200)
        }
        #expect(!call.isDone)
        try server.send { $0.writeHTTP2Data(streamID: 1, bytes: framed, endStream: false) }
        #expect(!call.isDone)
        try server.trailers(stream: 1, status: 0)
        #expect(call.value?.kvs.first?.value == Data("found".utf8))
        // Both sides ended the stream: nothing more to say about it (no RST_STREAM).
        #expect(try server.frames().isEmpty)
        #expect(server.channel.isActive)
    }

    /// A unary call needs exactly one message, and trailers after it.
    @Test func unaryResponseOfTwoMessagesOrWithoutTrailersFails() throws {
        let server = try Server()
        try server.handshake()
        let twice = range(server)
        let untrailed = range(server)
        _ = try server.frames()
        let framed = GRPCMessageFramer.frame(try Self.rangeResponse("v").serializedBytes() as [UInt8], allocator: .init())
        try server.responseHeaders(stream: 1)
        try server.send { $0.writeHTTP2Data(streamID: 1, bytes: framed, endStream: false) }
        try server.send { $0.writeHTTP2Data(streamID: 1, bytes: framed, endStream: false) }
        try server.trailers(stream: 1, status: 0)
        #expect(twice.status == GRPCStatus(.internal, "2 response messages for a unary call"))
        try server.responseHeaders(stream: 3)
        try server.send { $0.writeHTTP2Data(streamID: 3, bytes: framed, endStream: true) }
        #expect(untrailed.status == GRPCStatus(.internal, "the response ended without trailers"))
        // Both streams ended on both sides: no reset.
        #expect(try server.frames().isEmpty)
    }

    /// The frames of calls started in one round of the event loop leave in one write.
    @Test func callsOfOneRoundLeaveInOneWrite() throws {
        let server = try Server()
        try server.handshake()
        let calls = (0..<100).map { range(server, "key\($0)") }
        let frames = try server.frames()
        #expect(frames.count == 200)
        let streamIDs: [UInt32] = (0..<200).map { UInt32($0 / 2 * 2 + 1) }
        #expect(frames.map(\.header.streamID) == streamIDs)
        #expect(server.lastWrites == 1)
        #expect(calls.allSatisfy { !$0.isDone })
    }

    @Test func trailersOnlyResponseFailsTheCallWithItsStatusAndNoReset() throws {
        let server = try Server()
        try server.handshake()
        let call = range(server)
        _ = try server.frames()
        let block = try server.block([
            (":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "5"),
            ("grpc-message", "key%20not%20found%20%E2%9C%93"),
        ])
        try server.send { $0.writeHTTP2Headers(streamID: 1, block: block, endStream: true, frameBytesMax: 16_384) }
        #expect(call.status == GRPCStatus(.notFound, "key not found ✓"))
        #expect(try server.frames().isEmpty)
    }

    /// A response that is not gRPC's (HTTP 503 from a proxy, say): the status maps to a code,
    /// and a stream the server left open is reset.
    @Test func nonGRPCHTTPStatusMapsToACodeAndResetsTheOpenStream() throws {
        let server = try Server()
        try server.handshake()
        let call = range(server)
        _ = try server.frames()
        let block = try server.block([(":status", "503")])
        try server.send { $0.writeHTTP2Headers(streamID: 1, block: block, endStream: false, frameBytesMax: 16_384) }
        #expect(call.status == GRPCStatus(.unavailable, "HTTP status 503"))
        let reset = try server.frames()
        #expect(reset.map(\.header.kind) == [.rstStream])
        #expect(reset.first?.payload.getInteger(at: reset[0].payload.readerIndex, as: UInt32.self) == 8)  // CANCEL
    }

    /// DATA never beyond the stream's window: 100 bytes, then what WINDOW_UPDATEs grant; a
    /// smaller INITIAL_WINDOW_SIZE takes the window below zero.
    @Test func requestDataWaitsForTheStreamWindow() throws {
        let server = try Server()
        try server.handshake([(.initialWindowSize, 100)])
        var request = Self.rangeRequest("k")
        request.rangeEnd = Data(repeating: 7, count: 1_000)
        let call = Outcome(server.client.unary(Self.range, request, as: Etcdserverpb_RangeResponse.self))
        let messageBytes = 5 + (try request.serializedBytes() as [UInt8]).count
        var sent = try server.frames()
        try #require(sent.map(\.header.kind) == [.headers, .data])
        #expect(sent[1].header.length == 100 && !sent[1].header.has(HTTP2Wire.Flags.endStream))

        try server.send { $0.writeHTTP2WindowUpdate(streamID: 1, increment: 400) }
        sent = try server.frames()
        #expect(sent.map(\.header.length) == [400])
        // Window 0, then 50 less: -50. A grant of 60 leaves 10 to send.
        try server.send { $0.writeHTTP2Settings([(.initialWindowSize, 50)]) }
        #expect(try server.frames().map(\.header.kind) == [.settings])
        try server.send { $0.writeHTTP2WindowUpdate(streamID: 1, increment: 60) }
        #expect(try server.frames().map(\.header.length) == [10])
        try server.send { $0.writeHTTP2WindowUpdate(streamID: 1, increment: 10_000) }
        sent = try server.frames()
        #expect(sent.map(\.header.length) == [messageBytes - 510])
        #expect(sent.first?.header.has(HTTP2Wire.Flags.endStream) == true)
        try server.respond(stream: 1, Self.rangeResponse("v"))
        #expect(call.value != nil)
    }

    /// The connection's window (65,535 until the server grants more) holds back a large
    /// request whose stream window is ample; DATA comes in frames of the server's size.
    @Test func requestDataWaitsForTheConnectionWindowInFramesOfTheServersSize() throws {
        let server = try Server()
        try server.handshake([(.initialWindowSize, 1 << 20), (.maxFrameSize, 20_000)])
        var request = Self.rangeRequest("k")
        request.rangeEnd = Data(repeating: 7, count: 100_000)
        let call = Outcome(server.client.unary(Self.range, request, as: Etcdserverpb_RangeResponse.self))
        let messageBytes = 5 + (try request.serializedBytes() as [UInt8]).count
        var sent = try server.frames()
        #expect(sent.dropFirst().map(\.header.length) == [20_000, 20_000, 20_000, 5_535])
        try server.send { $0.writeHTTP2WindowUpdate(streamID: 0, increment: 1_000) }
        sent = try server.frames()
        #expect(sent.map(\.header.length) == [1_000])
        try server.send { $0.writeHTTP2WindowUpdate(streamID: 0, increment: 100_000) }
        sent = try server.frames()
        #expect(sent.map(\.header.length).reduce(0, +) == messageBytes - 66_535)
        #expect(sent.allSatisfy { $0.header.length <= 20_000 })
        #expect(sent.last?.header.has(HTTP2Wire.Flags.endStream) == true)
        try server.respond(stream: 1, Self.rangeResponse("v"))
        #expect(call.value != nil)
    }

    /// Inbound DATA (padding included) is granted back once half a window is used: the
    /// stream's and the connection's, each by its own count.
    @Test func grantsWindowBackOnceHalfOfItWasConsumed() throws {
        var configuration = GRPCConnectionConfiguration()
        configuration.streamWindowBytes = 40_000
        configuration.connectionWindowBytes = 70_000
        let server = try Server(configuration: configuration)
        try server.handshake()
        let responses = Collected<Etcdserverpb_WatchResponse>([])
        let call = server.client.bidirectionalStreaming(
            Self.watch, Etcdserverpb_WatchRequest.self, Etcdserverpb_WatchResponse.self
        ) { responses.append($0) }
        _ = try server.frames()
        try server.responseHeaders(stream: 1)
        var grants: [[String]] = []
        for index in 0..<4 {
            // 10,000 bytes of flow control each: the pad length, one message, 255 of padding.
            var response = Etcdserverpb_WatchResponse()
            response.watchID = Int64(index)
            response.cancelReason = String(repeating: "x", count: 9_700)
            while 5 + (try response.serializedBytes() as [UInt8]).count < 10_000 - 1 - 255 { response.cancelReason += "x" }
            let framed = GRPCMessageFramer.frame(try response.serializedBytes() as [UInt8], allocator: .init())
            #expect(framed.readableBytes == 10_000 - 1 - 255)
            try server.send { bytes in
                bytes.writeHTTP2FrameHeader(length: 10_000, type: .data, flags: HTTP2Wire.Flags.padded, streamID: 1)
                bytes.writeInteger(UInt8(255))
                bytes.writeImmutableBuffer(framed)
                bytes.writeRepeatingByte(0, count: 255)
            }
            grants.append(try server.frames().map { frame in
                #expect(frame.header.kind == .windowUpdate)
                return "\(frame.header.streamID)+\(frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt32.self)!)"
            })
        }
        #expect(grants == [[], ["1+20000"], [], ["0+40000", "1+20000"]])
        #expect(responses.value.map(\.watchID) == [0, 1, 2, 3])
        call.cancel()
    }

    /// MAX_CONCURRENT_STREAMS 1: the second call waits, and opens (on stream 3) when the
    /// first one's stream closes.
    @Test func callsBeyondTheServersStreamLimitWaitForAStream() throws {
        let server = try Server()
        try server.handshake([(.maxConcurrentStreams, 1)])
        let first = range(server, "a")
        let second = range(server, "b")
        #expect(try server.frames().map(\.header.streamID) == [1, 1])
        try server.respond(stream: 1, Self.rangeResponse("A"))
        #expect(first.value?.kvs.first?.value == Data("A".utf8))
        let opened = try server.frames()
        try #require(opened.map(\.header.streamID) == [3, 3])
        #expect(try Server.message(opened[1], as: Etcdserverpb_RangeRequest.self).key == Data("b".utf8))
        #expect(!second.isDone)
        try server.respond(stream: 3, Self.rangeResponse("B"))
        #expect(second.value?.kvs.first?.value == Data("B".utf8))
    }

    /// GOAWAY with last stream 1: the call on stream 3 fails (not processed), a new call fails
    /// at once, the call on stream 1 completes, and then the connection closes.
    @Test func goAwayFailsLaterStreamsAndNewCallsAndLetsEarlierOnesFinish() throws {
        let server = try Server()
        try server.handshake()
        let kept = range(server, "a")
        let dropped = range(server, "b")
        #expect(try server.frames().map(\.header.streamID) == [1, 1, 3, 3])
        try server.send { $0.writeHTTP2GoAway(lastStreamID: 1, code: .noError, message: "restarting") }
        #expect(dropped.status?.code == .unavailable)
        #expect(dropped.status?.message.contains("not processed") == true)
        let refused = range(server, "c")
        #expect(refused.status?.code == .unavailable)
        #expect(try server.frames().isEmpty, "no stream opened after GOAWAY")
        #expect(!kept.isDone)
        #expect(server.channel.isActive)
        try server.respond(stream: 1, Self.rangeResponse("A"))
        #expect(kept.value?.kvs.first?.value == Data("A".utf8))
        #expect(!server.channel.isActive, "the connection closes once its last stream ended")
    }

    /// The server's RST_STREAM ends the call (UNAVAILABLE) without a reset back; a client's
    /// cancel sends RST_STREAM(CANCEL).
    @Test func resetsEndCallsBothWays() throws {
        let server = try Server()
        try server.handshake()
        let call = range(server)
        _ = try server.frames()
        try server.send { $0.writeHTTP2RstStream(streamID: 1, code: .refusedStream) }
        #expect(call.status?.code == .unavailable)
        #expect(call.status?.message.hasPrefix("stream error") == true)
        #expect(try server.frames().isEmpty)

        let watch = server.client.bidirectionalStreaming(
            Self.watch, Etcdserverpb_WatchRequest.self, Etcdserverpb_WatchResponse.self) { _ in }
        let status = Outcome(watch.status)
        let send = Outcome(watch.send(Etcdserverpb_WatchRequest()))
        #expect(try server.frames().map(\.header.kind) == [.headers, .data])
        #expect(send.isDone && send.status == nil, "the message was written")
        watch.cancel()
        #expect(status.value?.code == .unavailable)
        let reset = try server.frames()
        #expect(reset.map(\.header.kind) == [.rstStream] && reset.first?.header.streamID == 3)
        #expect(reset.first?.payload.getInteger(at: reset[0].payload.readerIndex, as: UInt32.self) == 8)
        let late = Outcome(watch.send(Etcdserverpb_WatchRequest()))
        #expect(late.status?.code == .unavailable)
    }

    /// A frame of the wrong size is the server's protocol error: GOAWAY(FRAME_SIZE_ERROR),
    /// every call fails UNAVAILABLE, the connection closes.
    @Test func malformedFrameIsAConnectionError() throws {
        let server = try Server()
        try server.handshake()
        let call = range(server)
        _ = try server.frames()
        try server.send { $0.writeHTTP2FrameHeader(length: 7, type: .ping, flags: 0, streamID: 0); $0.writeRepeatingByte(1, count: 7) }
        let goAway = try server.frames()
        #expect(goAway.map(\.header.kind) == [.goAway])
        #expect(goAway.first?.payload.getInteger(at: goAway[0].payload.readerIndex + 4, as: UInt32.self) == 6)
        #expect(call.status?.code == .unavailable)
        #expect(!server.channel.isActive)
        #expect(range(server).status?.code == .unavailable)
    }

    /// Nothing may come between a HEADERS without END_HEADERS and its CONTINUATION.
    @Test func frameInsideAHeaderBlockIsAProtocolError() throws {
        let server = try Server()
        try server.handshake()
        let call = range(server)
        _ = try server.frames()
        let block = try server.block([(":status", "200"), ("content-type", "application/grpc")])
        try server.send { bytes in
            bytes.writeHTTP2FrameHeader(length: 2, type: .headers, flags: 0, streamID: 1)
            bytes.writeImmutableBuffer(block.getSlice(at: block.readerIndex, length: 2)!)
            bytes.writeHTTP2WindowUpdate(streamID: 0, increment: 1)
        }
        let goAway = try server.frames()
        #expect(goAway.map(\.header.kind) == [.goAway])
        #expect(goAway.first?.payload.getInteger(at: goAway[0].payload.readerIndex + 4, as: UInt32.self) == 1)
        #expect(call.status?.code == .unavailable)
    }

    /// The first header block, and the first after the server changes its table size, start
    /// with a dynamic table size update; the others do not.
    @Test func tableSizeUpdateOpensTheFirstBlockAndTheFirstAfterAChange() throws {
        let server = try Server()
        try server.handshake()
        func firstByteOfNextRequest() throws -> UInt8? {
            _ = range(server)
            let headers = try server.frames().first { $0.header.kind == .headers }
            return headers.flatMap { $0.payload.getInteger(at: $0.payload.readerIndex, as: UInt8.self) }
        }
        #expect(try firstByteOfNextRequest() == 0x20)
        #expect(try firstByteOfNextRequest() == 0x83)
        try server.send { $0.writeHTTP2Settings([(.headerTableSize, 4_096)]) }  // unchanged
        _ = try server.frames()
        #expect(try firstByteOfNextRequest() == 0x83)
        try server.send { $0.writeHTTP2Settings([(.headerTableSize, 256)]) }
        _ = try server.frames()
        #expect(try firstByteOfNextRequest() == 0x20)
        #expect(try firstByteOfNextRequest() == 0x83)
    }

    /// The server's encoder indexes fields; a block for a call already cancelled must still
    /// be decoded, or the next block's references point at the wrong entries.
    @Test func headerBlocksOfEndedCallsStillFeedTheDecoder() throws {
        let server = try Server()
        try server.handshake()
        let watch = server.client.bidirectionalStreaming(
            Self.watch, Etcdserverpb_WatchRequest.self, Etcdserverpb_WatchResponse.self) { _ in }
        let call = range(server)
        _ = try server.frames()
        watch.cancel()
        _ = try server.frames()
        // Stream 1's headers add "x-server: first" to the table; stream 3's refer to it.
        let late = try server.block([(":status", "200"), ("content-type", "application/grpc"), ("x-server", "first")])
        try server.send { $0.writeHTTP2Headers(streamID: 1, block: late, endStream: true, frameBytesMax: 16_384) }
        let trailersOnly = try server.block([
            (":status", "200"), ("content-type", "application/grpc"), ("x-server", "first"), ("grpc-status", "7"),
        ])
        try server.send { $0.writeHTTP2Headers(streamID: 3, block: trailersOnly, endStream: true, frameBytesMax: 16_384) }
        #expect(call.status?.code == .permissionDenied)
        #expect(server.channel.isActive)
    }

    @Test func lostConnectionFailsOpenAndWaitingCalls() throws {
        let server = try Server()
        try server.handshake([(.maxConcurrentStreams, 1)])
        let open = range(server)
        let waiting = range(server)
        _ = try server.frames()
        try server.channel.close().wait()
        #expect(open.status?.code == .unavailable)
        #expect(waiting.status?.code == .unavailable)
        #expect(range(server).status?.code == .unavailable)
    }
}

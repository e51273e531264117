import Foundation
import NIOCore
import NIOEmbedded
import NIOHPACK
import SwiftProtobuf
import Testing

@testable import KeelAPI

/// Keel's own HTTP/2 server connection, driven frame by frame from a scripted client on an
/// `EmbeddedChannel`: what RFC 9113 asks of it that real clients rarely show (CONTINUATION,
/// padding, small windows, refused streams, floods).
@Suite struct GRPCServerConnectionTests {
    typealias Wire = HTTP2Wire

    @Test func settingsAndPingAreAnsweredAndTheConnectionWindowRaised() throws {
        var peer = try ScriptedClient()
        let opening = try peer.frames()
        try #require(opening.map(\.0.type) == [Wire.FrameType.settings.rawValue, Wire.FrameType.windowUpdate.rawValue, Wire.FrameType.settings.rawValue])
        var settings = opening[0].1
        var values: [UInt16: UInt32] = [:]
        while let id = settings.readInteger(as: UInt16.self), let value = settings.readInteger(as: UInt32.self) { values[id] = value }
        #expect(values[Wire.Setting.initialWindowSize.rawValue] == UInt32(GRPCConnectionConfiguration().streamWindowBytes))
        var raise = opening[1].1
        #expect(Int(raise.readInteger(as: UInt32.self)!) == GRPCConnectionConfiguration().connectionWindowBytes - Wire.windowDefault)
        #expect(opening[2].0.has(Wire.Flags.ack))

        try peer.send { $0.writeHTTP2FrameHeader(length: 8, type: .ping, flags: 0, streamID: 0); $0.writeInteger(UInt64(0xC0FFEE)) }
        let answer = try peer.frames()
        try #require(answer.count == 1)
        #expect(answer[0].0.type == Wire.FrameType.ping.rawValue && answer[0].0.has(Wire.Flags.ack))
        var payload = answer[0].1
        #expect(payload.readInteger(as: UInt64.self) == 0xC0FFEE)
    }

    @Test func headersOverContinuationAndPaddedDataMakeOneUnaryCall() throws {
        var peer = try ScriptedClient()
        _ = try peer.frames()
        var block = peer.requestBlock("/test.Echo/Unary")
        let first = block.readSlice(length: 10)!
        // HEADERS, padded, without END_HEADERS; the rest of the block in a CONTINUATION.
        try peer.send { buffer in
            buffer.writeHTTP2FrameHeader(length: 1 + first.readableBytes + 3, type: .headers, flags: Wire.Flags.padded, streamID: 1)
            buffer.writeInteger(UInt8(3))
            var first = first
            buffer.writeBuffer(&first)
            buffer.writeBytes([0, 0, 0])
            buffer.writeHTTP2FrameHeader(length: block.readableBytes, type: .continuation, flags: Wire.Flags.endHeaders, streamID: 1)
            buffer.writeBuffer(&block)
        }
        #expect(try peer.frames().isEmpty)
        let message = ScriptedClient.message(key: "k", value: "v")
        try peer.send { buffer in
            buffer.writeHTTP2FrameHeader(
                length: 1 + message.readableBytes + 7, type: .data, flags: Wire.Flags.padded | Wire.Flags.endStream, streamID: 1)
            buffer.writeInteger(UInt8(7))
            var message = message
            buffer.writeBuffer(&message)
            buffer.writeBytes([UInt8](repeating: 0, count: 7))
        }
        let response = try peer.frames()
        try #require(response.map(\.0.type) == [Wire.FrameType.headers.rawValue, Wire.FrameType.data.rawValue, Wire.FrameType.headers.rawValue])
        #expect(try peer.headers(response[0]).first(name: ":status") == "200")
        #expect(try ScriptedClient.echoed(response[1].1) == "k=v")
        #expect(response[2].0.has(Wire.Flags.endStream))
        #expect(try peer.headers(response[2]).first(name: "grpc-status") == "0")
    }

    @Test func aFailureIsOneTrailersOnlyHeadersFrame() throws {
        var peer = try ScriptedClient()
        _ = try peer.frames()
        try peer.call("/test.Echo/Fail", streamID: 1)
        let response = try peer.frames()
        try #require(response.count == 1)
        #expect(response[0].0.has(Wire.Flags.endStream))
        let trailers = try peer.headers(response[0])
        #expect(trailers.first(name: ":status") == "200")
        #expect(trailers.first(name: "grpc-status") == "5")
        #expect(trailers.first(name: "grpc-message") == "no such thing: 100%25")
    }

    @Test func dataWaitsForTheClientsWindowAndTheTrailersWaitBehindIt() throws {
        var peer = try ScriptedClient()
        _ = try peer.frames()
        try peer.send { $0.writeHTTP2Settings([(.initialWindowSize, 10)]) }
        #expect(try peer.frames().map(\.0.type) == [Wire.FrameType.settings.rawValue])
        let value = String(repeating: "x", count: 100)
        try peer.call("/test.Echo/Unary", streamID: 1, key: "k", value: value)
        let blocked = try peer.frames()
        try #require(blocked.map(\.0.type) == [Wire.FrameType.headers.rawValue, Wire.FrameType.data.rawValue])
        #expect(blocked[1].0.length == 10)
        try peer.send { $0.writeHTTP2WindowUpdate(streamID: 1, increment: 1000) }
        let rest = try peer.frames()
        try #require(rest.map(\.0.type) == [Wire.FrameType.data.rawValue, Wire.FrameType.headers.rawValue])
        #expect(rest[1].0.has(Wire.Flags.endStream))
        var whole = blocked[1].1
        var tail = rest[0].1
        whole.writeBuffer(&tail)
        #expect(try ScriptedClient.echoed(whole) == "k=" + value)
    }

    @Test func streamsBeyondTheConcurrencyLimitAreRefused() throws {
        var configuration = GRPCConnectionConfiguration()
        configuration.concurrentStreamsMax = 1
        var peer = try ScriptedClient(configuration: configuration)
        _ = try peer.frames()
        try peer.openStream("/test.Echo/Stream", streamID: 1)
        try peer.openStream("/test.Echo/Stream", streamID: 3)
        let frames = try peer.frames()
        try #require(frames.count == 1)
        #expect(frames[0].0.type == Wire.FrameType.rstStream.rawValue && frames[0].0.streamID == 3)
        #expect(ScriptedClient.resetCode(frames[0]) == Wire.ErrorCode.refusedStream.rawValue)
        #expect(peer.live == 1)
    }

    @Test func dataBeyondTheStreamWindowResetsOnlyThatStream() throws {
        var configuration = GRPCConnectionConfiguration()
        configuration.streamWindowBytes = 100
        var peer = try ScriptedClient(configuration: configuration)
        _ = try peer.frames()
        try peer.openStream("/test.Echo/Stream", streamID: 1)
        // 60 bytes in: past half the window, so the server grants them back.
        try peer.send { $0.writeHTTP2Data(streamID: 1, bytes: ScriptedClient.message(key: "a", value: String(repeating: "y", count: 40)), endStream: false) }
        let granted = try peer.frames()
        #expect(granted.contains { $0.0.type == Wire.FrameType.windowUpdate.rawValue && $0.0.streamID == 1 })
        try peer.openStream("/test.Echo/Stream", streamID: 3)
        try peer.send { $0.writeHTTP2Data(streamID: 3, bytes: ByteBuffer(repeating: 0, count: 101), endStream: false) }
        let frames = try peer.frames()
        try #require(frames.map(\.0.type) == [Wire.FrameType.rstStream.rawValue] && frames[0].0.streamID == 3)
        #expect(ScriptedClient.resetCode(frames[0]) == Wire.ErrorCode.flowControlError.rawValue)
        #expect(peer.live == 1 && peer.channel.isActive)
    }

    @Test func anAnswerBeforeTheClientEndsIsFollowedByResetNoError() throws {
        var peer = try ScriptedClient()
        _ = try peer.frames()
        try peer.openStream("/test.Echo/Missing", streamID: 1)
        let frames = try peer.frames()
        try #require(frames.map(\.0.type) == [Wire.FrameType.headers.rawValue, Wire.FrameType.rstStream.rawValue])
        #expect(try peer.headers(frames[0]).first(name: "grpc-status") == "12")
        #expect(ScriptedClient.resetCode(frames[1]) == Wire.ErrorCode.noError.rawValue)
        #expect(peer.live == 0)
    }

    @Test func anInterruptedHeaderBlockIsAConnectionError() throws {
        var peer = try ScriptedClient()
        _ = try peer.frames()
        var block = peer.requestBlock("/test.Echo/Unary")
        try peer.send { buffer in
            buffer.writeHTTP2FrameHeader(length: block.readableBytes, type: .headers, flags: 0, streamID: 1)
            buffer.writeBuffer(&block)
            buffer.writeHTTP2FrameHeader(length: 8, type: .ping, flags: 0, streamID: 0)
            buffer.writeInteger(UInt64(1))
        }
        try peer.expectGoAway(.protocolError)
    }

    @Test func aPingFloodIsToldToCalmDown() throws {
        var configuration = GRPCConnectionConfiguration()
        configuration.controlFramesPerSecondMax = 5
        var peer = try ScriptedClient(configuration: configuration)
        _ = try peer.frames()
        try peer.send { buffer in
            for index in 0..<6 {
                buffer.writeHTTP2FrameHeader(length: 8, type: .ping, flags: 0, streamID: 0)
                buffer.writeInteger(UInt64(index))
            }
        }
        try peer.expectGoAway(.enhanceYourCalm)
    }

    @Test func aBadPrefaceIsAConnectionError() throws {
        var peer = try ScriptedClient(preface: Array("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".utf8))
        try peer.expectGoAway(.protocolError)
    }
}

/// A client written frame by frame: HPACK-encodes requests (with the dynamic table, as real
/// clients do) and decodes what the server sends.
private struct ScriptedClient {
    let channel = EmbeddedChannel()
    private let count = StreamCount()
    private var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
    private var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
    private var received = ByteBuffer()

    init(
        configuration: GRPCConnectionConfiguration = GRPCConnectionConfiguration(),
        preface: [UInt8] = HTTP2Wire.preface
    ) throws {
        let connection = GRPCServerConnection(
            methods: Self.methods, configuration: configuration, count: count, eventLoop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(connection)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2379)).wait()
        try send { buffer in
            buffer.writeBytes(preface)
            buffer.writeHTTP2Settings([])
        }
    }

    var live: Int { count.live.load(ordering: .relaxed) }

    mutating func send(_ build: (inout ByteBuffer) -> Void) throws {
        var buffer = ByteBuffer()
        build(&buffer)
        try channel.writeInbound(buffer)
        channel.embeddedEventLoop.run()
    }

    /// Every whole frame the server wrote since the last call.
    mutating func frames() throws -> [(HTTP2Wire.FrameHeader, ByteBuffer)] {
        channel.embeddedEventLoop.run()
        while var bytes = try channel.readOutbound(as: ByteBuffer.self) { received.writeBuffer(&bytes) }
        var frames: [(HTTP2Wire.FrameHeader, ByteBuffer)] = []
        while let frame = try received.readHTTP2Frame(payloadBytesMax: 1 << 24) { frames.append(frame) }
        return frames
    }

    mutating func headers(_ frame: (HTTP2Wire.FrameHeader, ByteBuffer)) throws -> HPACKHeaders {
        var block = frame.1
        return try decoder.decodeHeaders(from: &block)
    }

    /// The error code an RST_STREAM frame carries.
    static func resetCode(_ frame: (HTTP2Wire.FrameHeader, ByteBuffer)) -> UInt32? {
        var payload = frame.1
        return payload.readInteger(as: UInt32.self)
    }

    mutating func expectGoAway(_ code: HTTP2Wire.ErrorCode) throws {
        let frames = try frames()
        let goAway = frames.last { $0.0.type == HTTP2Wire.FrameType.goAway.rawValue }
        var payload = try #require(goAway).1
        _ = payload.readInteger(as: UInt32.self)
        #expect(payload.readInteger(as: UInt32.self) == code.rawValue)
        #expect(!channel.isActive)
    }

    mutating func requestBlock(_ path: String) -> ByteBuffer {
        let headers: HPACKHeaders = [
            ":method": "POST", ":scheme": "http", ":path": path, ":authority": "localhost",
            "content-type": "application/grpc", "te": "trailers",
        ]
        var block = ByteBuffer()
        try! encoder.encode(headers: headers, to: &block)
        return block
    }

    mutating func openStream(_ path: String, streamID: UInt32) throws {
        let block = requestBlock(path)
        try send { $0.writeHTTP2Headers(streamID: streamID, block: block, endStream: false, frameBytesMax: 16_384) }
    }

    /// A whole unary call: headers, one message, end of stream.
    mutating func call(_ path: String, streamID: UInt32, key: String = "k", value: String = "v") throws {
        try openStream(path, streamID: streamID)
        try send { $0.writeHTTP2Data(streamID: streamID, bytes: Self.message(key: key, value: value), endStream: true) }
    }

    static func message(key: String, value: String) -> ByteBuffer {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data(value.utf8)
        return GRPCMessageFramer.frame(try! request.serializedBytes() as [UInt8], allocator: ByteBufferAllocator())
    }

    /// "key=value" of the echo's response message.
    static func echoed(_ data: ByteBuffer) throws -> String {
        var deframer = GRPCMessageDeframer(messageBytesMax: 1 << 20)
        deframer.append(data)
        let bytes = try #require(try deframer.next())
        let response = try Etcdserverpb_PutResponse(serializedBytes: Array(bytes.readableBytesView))
        return String(decoding: response.prevKv.key, as: UTF8.self) + "=" + String(decoding: response.prevKv.value, as: UTF8.self)
    }

    static let methods: GRPCMethodTable = {
        var table = GRPCMethodTable()
        table.addUnary("/test.Echo/Unary", Etcdserverpb_PutRequest.self, Etcdserverpb_PutResponse.self) { request, _, reply in
            var response = Etcdserverpb_PutResponse()
            response.prevKv.key = request.key
            response.prevKv.value = request.value
            reply.succeed(response)
        }
        table.addUnary("/test.Echo/Fail", Etcdserverpb_PutRequest.self, Etcdserverpb_PutResponse.self) { _, _, reply in
            reply.fail(GRPCStatus(.notFound, "no such thing: 100%"))
        }
        table.addBidirectionalStreaming("/test.Echo/Stream", Etcdserverpb_PutRequest.self, Etcdserverpb_PutResponse.self) { _, _ in
            { _ in }
        }
        return table
    }()
}

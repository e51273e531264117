import FoundationEssentials
@testable import KeelAPI
import NIOCore
import NIOEmbedded
import NIOHPACK
import SwiftProtobuf
import Testing

/// The server's end of a `GRPCClientConnection` on an `EmbeddedChannel`: a test reads the
/// frames the client wrote and writes frames of its choosing back, byte for byte. Used from
/// one thread (the embedded loop's rule): tests that use it are synchronous.
final class ScriptedHTTP2Server {
    typealias Frame = (header: HTTP2Wire.FrameHeader, payload: ByteBuffer)

    let channel: EmbeddedChannel
    let client: GRPCClient
    private var written = ByteBuffer()
    private var sawPreface = false
    /// How many writes the client's frames of the last `frames()` came in.
    private(set) var lastWrites = 0
    /// Indexes what it encodes, so the client's decoder must follow every block.
    var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), useHuffmanEncoding: false)
    var decoder = HPACKDecoder(allocator: ByteBufferAllocator())

    /// `connected: false` leaves the channel inactive until `connect()`.
    init(configuration: GRPCConnectionConfiguration = GRPCConnectionConfiguration(), connected: Bool = true) throws {
        let connection = GRPCClientConnection(authority: "keel.test:2379", configuration: configuration)
        channel = EmbeddedChannel(handler: connection)
        client = GRPCClient(
            channel: channel, connection: NIOLoopBound(connection, eventLoop: channel.eventLoop),
            messageBytesMax: configuration.messageBytesMax)
        if connected { try connect() }
    }

    func connect() throws {
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2379)).wait()
    }

    /// Reads the client's preface and first frames, then sends SETTINGS (with `settings`) and
    /// reads the client's acknowledgement: the connection is then ready.
    func handshake(_ settings: [(HTTP2Wire.Setting, Int)] = []) throws {
        _ = try frames()
        try send { $0.writeHTTP2Settings(settings) }
        let ack = try frames()
        #expect(ack.count == 1 && ack.first?.header.type == HTTP2Wire.FrameType.settings.rawValue)
    }

    /// Runs the loop's pending tasks (the client's flush) and returns the frames the client
    /// wrote since the last call. The preface is checked and skipped.
    func frames() throws -> [Frame] {
        channel.embeddedEventLoop.run()
        lastWrites = 0
        while var bytes = try channel.readOutbound(as: ByteBuffer.self) {
            written.writeBuffer(&bytes)
            lastWrites += 1
        }
        if !sawPreface {
            let preface = written.readBytes(length: HTTP2Wire.preface.count)
            #expect(preface == HTTP2Wire.preface)
            sawPreface = true
        }
        var frames: [Frame] = []
        while let frame = try written.readHTTP2Frame(payloadBytesMax: 1 << 24) { frames.append(frame) }
        #expect(written.readableBytes == 0, "the client wrote part of a frame")
        return frames
    }

    /// Writes bytes to the client, as if they came off the socket.
    func send(_ write: (inout ByteBuffer) -> Void) throws {
        var bytes = ByteBuffer()
        write(&bytes)
        try channel.writeInbound(bytes)
    }

    /// A header block encoded with HPACK's dynamic table.
    func block(_ headers: [(String, String)]) throws -> ByteBuffer {
        var block = ByteBuffer()
        try encoder.encode(headers: HPACKHeaders(headers), to: &block)
        return block
    }

    /// The response's headers: ":status" 200 and gRPC's content type.
    func responseHeaders(stream: UInt32) throws {
        let block = try block([(":status", "200"), ("content-type", "application/grpc")])
        try send { $0.writeHTTP2Headers(streamID: stream, block: block, endStream: false, frameBytesMax: 16_384) }
    }

    func trailers(stream: UInt32, status: Int, message: String? = nil) throws {
        var fields = [("grpc-status", "\(status)")]
        if let message { fields.append(("grpc-message", message)) }
        let block = try block(fields)
        try send { $0.writeHTTP2Headers(streamID: stream, block: block, endStream: true, frameBytesMax: 16_384) }
    }

    /// A whole successful unary response: headers, one message, trailers with OK.
    func respond(stream: UInt32, _ message: some SwiftProtobuf.Message) throws {
        try responseHeaders(stream: stream)
        let framed = GRPCMessageFramer.frame(try message.serializedBytes() as [UInt8], allocator: ByteBufferAllocator())
        try send { $0.writeHTTP2Data(streamID: stream, bytes: framed, endStream: false) }
        try trailers(stream: stream, status: 0)
    }

    /// Decodes a request's HEADERS frame (a whole block in one frame).
    func requestHeaders(_ frame: Frame) throws -> HPACKHeaders {
        #expect(frame.header.type == HTTP2Wire.FrameType.headers.rawValue)
        #expect(frame.header.has(HTTP2Wire.Flags.endHeaders))
        var block = frame.payload
        return try decoder.decodeHeaders(from: &block)
    }

    /// The request message in a DATA frame's payload (one whole message).
    static func message<M: SwiftProtobuf.Message>(_ frame: Frame, as type: M.Type) throws -> M {
        var payload = frame.payload
        #expect(payload.readInteger(as: UInt8.self) == 0)
        let length = Int(payload.readInteger(as: UInt32.self) ?? 0)
        #expect(payload.readableBytes == length)
        return try M(serializedBytes: Array(payload.readableBytesView))
    }
}

/// Frame kinds, compactly, for expectations.
extension HTTP2Wire.FrameHeader {
    var kind: HTTP2Wire.FrameType? { HTTP2Wire.FrameType(rawValue: type) }
}

/// A call's outcome, collected from its future's callback (the embedded loop runs callbacks
/// at once, so it is there as soon as the call ended).
final class Outcome<Value: Sendable>: Sendable {
    private let collected = Collected<Result<Value, any Error>>([])

    init(_ future: EventLoopFuture<Value>) {
        future.whenComplete { [collected] in collected.append($0) }
    }

    var result: Result<Value, any Error>? { collected.value.first }
    var isDone: Bool { result != nil }
    var value: Value? { try? result?.get() }
    var status: GRPCStatus? {
        guard case .failure(let error) = result else { return nil }
        return error as? GRPCStatus
    }
}

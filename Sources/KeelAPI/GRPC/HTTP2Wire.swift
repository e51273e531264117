import NIOCore

/// The bytes of HTTP/2 (RFC 9113) that Keel's own gRPC connections read and write: frame
/// headers, frame types, flags, error codes and settings.
///
/// Every frame starts with a 9-byte header:
///
///     0                   3        4        5                    9
///     +-------------------+--------+--------+--------------------+----------------+
///     | length (24 bits)  | type   | flags  | R | stream id (31) | payload        |
///     +-------------------+--------+--------+--------------------+----------------+
enum HTTP2Wire {
    /// What a client sends before its first frame.
    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let frameHeaderBytes = 9
    /// SETTINGS_MAX_FRAME_SIZE until a peer raises it, and the largest payload Keel accepts.
    static let maxFrameSizeDefault = 16_384
    /// Flow-control windows start here, for the connection and for each stream.
    static let windowDefault = 65_535
    /// The largest flow-control window (2^31 - 1).
    static let windowMax = Int(Int32.max)

    enum FrameType: UInt8 {
        case data = 0x0, headers = 0x1, priority = 0x2, rstStream = 0x3, settings = 0x4
        case pushPromise = 0x5, ping = 0x6, goAway = 0x7, windowUpdate = 0x8, continuation = 0x9
    }

    enum Flags {
        static let endStream: UInt8 = 0x1
        static let ack: UInt8 = 0x1
        static let endHeaders: UInt8 = 0x4
        static let padded: UInt8 = 0x8
        static let priority: UInt8 = 0x20
    }

    enum ErrorCode: UInt32 {
        case noError = 0x0, protocolError = 0x1, internalError = 0x2, flowControlError = 0x3
        case settingsTimeout = 0x4, streamClosed = 0x5, frameSizeError = 0x6, refusedStream = 0x7
        case cancel = 0x8, compressionError = 0x9, connectError = 0xa, enhanceYourCalm = 0xb
    }

    enum Setting: UInt16 {
        case headerTableSize = 0x1, enablePush = 0x2, maxConcurrentStreams = 0x3
        case initialWindowSize = 0x4, maxFrameSize = 0x5, maxHeaderListSize = 0x6
    }

    /// A frame's header, as read.
    struct FrameHeader {
        var length: Int
        /// The raw type: frames of unknown types are to be ignored, so this is not a `FrameType`.
        var type: UInt8
        var flags: UInt8
        var streamID: UInt32

        func has(_ flag: UInt8) -> Bool { flags & flag != 0 }
    }

    /// A broken connection: answered with GOAWAY carrying `code`, then the socket is closed.
    struct ConnectionError: Error {
        var code: ErrorCode
        var message: String

        init(_ code: ErrorCode, _ message: String) {
            self.code = code
            self.message = message
        }
    }
}

extension ByteBuffer {
    /// Takes one whole frame off the front: its header and a slice of its payload; nil (and
    /// nothing read) when the frame is not all here yet. A length above `payloadBytesMax` is a
    /// FRAME_SIZE_ERROR of the connection.
    mutating func readHTTP2Frame(
        payloadBytesMax: Int
    ) throws(HTTP2Wire.ConnectionError) -> (HTTP2Wire.FrameHeader, ByteBuffer)? {
        let start = readerIndex
        guard readableBytes >= HTTP2Wire.frameHeaderBytes,
            let high = getInteger(at: start, as: UInt16.self),
            let low = getInteger(at: start + 2, as: UInt8.self),
            let type = getInteger(at: start + 3, as: UInt8.self),
            let flags = getInteger(at: start + 4, as: UInt8.self),
            let stream = getInteger(at: start + 5, as: UInt32.self)
        else { return nil }
        let length = Int(high) << 8 | Int(low)
        guard length <= payloadBytesMax else {
            throw HTTP2Wire.ConnectionError(.frameSizeError, "frame of \(length) bytes, above \(payloadBytesMax)")
        }
        guard readableBytes >= HTTP2Wire.frameHeaderBytes + length else { return nil }
        moveReaderIndex(forwardBy: HTTP2Wire.frameHeaderBytes)
        let payload = readSlice(length: length)!
        let header = HTTP2Wire.FrameHeader(length: length, type: type, flags: flags, streamID: stream & 0x7fff_ffff)
        return (header, payload)
    }

    /// Writes a frame header; `length` bytes of payload must follow.
    mutating func writeHTTP2FrameHeader(length: Int, type: HTTP2Wire.FrameType, flags: UInt8, streamID: UInt32) {
        precondition(length >= 0 && length < 1 << 24, "HTTP/2 frame payload of \(length) bytes")
        writeInteger(UInt16(truncatingIfNeeded: length >> 8))
        writeInteger(UInt8(truncatingIfNeeded: length))
        writeInteger(type.rawValue)
        writeInteger(flags)
        writeInteger(streamID & 0x7fff_ffff)
    }

    /// A SETTINGS frame with the given values (none: an empty one; `ack`: the acknowledgement).
    mutating func writeHTTP2Settings(_ settings: [(HTTP2Wire.Setting, Int)], ack: Bool = false) {
        writeHTTP2FrameHeader(
            length: settings.count * 6, type: .settings, flags: ack ? HTTP2Wire.Flags.ack : 0, streamID: 0)
        for (setting, value) in settings {
            writeInteger(setting.rawValue)
            writeInteger(UInt32(value))
        }
    }

    mutating func writeHTTP2WindowUpdate(streamID: UInt32, increment: Int) {
        precondition(increment > 0 && increment <= HTTP2Wire.windowMax)
        writeHTTP2FrameHeader(length: 4, type: .windowUpdate, flags: 0, streamID: streamID)
        writeInteger(UInt32(increment))
    }

    mutating func writeHTTP2RstStream(streamID: UInt32, code: HTTP2Wire.ErrorCode) {
        writeHTTP2FrameHeader(length: 4, type: .rstStream, flags: 0, streamID: streamID)
        writeInteger(code.rawValue)
    }

    mutating func writeHTTP2GoAway(lastStreamID: UInt32, code: HTTP2Wire.ErrorCode, message: String) {
        let debug = Array(message.utf8.prefix(256))
        writeHTTP2FrameHeader(length: 8 + debug.count, type: .goAway, flags: 0, streamID: 0)
        writeInteger(lastStreamID & 0x7fff_ffff)
        writeInteger(code.rawValue)
        writeBytes(debug)
    }

    /// The PING answer: the same 8 bytes, with ACK.
    mutating func writeHTTP2PingAck(_ payload: ByteBuffer) {
        var payload = payload
        writeHTTP2FrameHeader(length: 8, type: .ping, flags: HTTP2Wire.Flags.ack, streamID: 0)
        writeBuffer(&payload)
    }

    /// A DATA frame carrying `bytes` (at most the peer's frame size; the caller splits).
    mutating func writeHTTP2Data(streamID: UInt32, bytes: ByteBuffer, endStream: Bool) {
        var bytes = bytes
        writeHTTP2FrameHeader(
            length: bytes.readableBytes, type: .data, flags: endStream ? HTTP2Wire.Flags.endStream : 0,
            streamID: streamID)
        writeBuffer(&bytes)
    }

    /// A header block as a HEADERS frame, followed by CONTINUATION frames when it is larger
    /// than `frameBytesMax`.
    mutating func writeHTTP2Headers(streamID: UInt32, block: ByteBuffer, endStream: Bool, frameBytesMax: Int) {
        var block = block
        var type = HTTP2Wire.FrameType.headers
        var flags: UInt8 = endStream ? HTTP2Wire.Flags.endStream : 0
        repeat {
            let length = Swift.min(block.readableBytes, frameBytesMax)
            if length == block.readableBytes { flags |= HTTP2Wire.Flags.endHeaders }
            var piece = block.readSlice(length: length)!
            writeHTTP2FrameHeader(length: length, type: type, flags: flags, streamID: streamID)
            writeBuffer(&piece)
            type = .continuation
            flags = 0
        } while block.readableBytes > 0
    }
}

/// Header blocks written without HPACK's dynamic table: every field is a literal "without
/// indexing" (RFC 7541 §6.2.2) or an entry of the static table, and strings are not Huffman
/// coded. The encoder then has no state to keep in step with the peer's decoder, and a
/// block can be built once and reused; the peer's table size setting only asks that a block
/// after a change start with a size update, which `tableSizeZero` is.
enum HTTP2HeaderBlock {
    /// "Dynamic table size update" to 0: Keel's encoder never uses the table.
    static let tableSizeZero: UInt8 = 0x20

    /// Static table entries Keel names (RFC 7541 Appendix A).
    enum Static {
        static let authority = 1
        static let methodPost = 3
        static let path = 4
        static let schemeHTTP = 6
        static let status200 = 8
        static let contentType = 31
        static let userAgent = 58
    }

    /// A field that is wholly in the static table (such as ":status: 200").
    static func writeIndexed(_ index: Int, into buffer: inout ByteBuffer) {
        writeInteger(index, prefixBits: 7, pattern: 0x80, into: &buffer)
    }

    /// A literal value for a name from the static table.
    static func writeLiteral(nameIndex: Int, value: some Collection<UInt8>, into buffer: inout ByteBuffer) {
        writeInteger(nameIndex, prefixBits: 4, pattern: 0x00, into: &buffer)
        writeString(value, into: &buffer)
    }

    /// A literal name and value.
    static func writeLiteral(name: some Collection<UInt8>, value: some Collection<UInt8>, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0))
        writeString(name, into: &buffer)
        writeString(value, into: &buffer)
    }

    private static func writeString(_ bytes: some Collection<UInt8>, into buffer: inout ByteBuffer) {
        writeInteger(bytes.count, prefixBits: 7, pattern: 0x00, into: &buffer)
        buffer.writeBytes(bytes)
    }

    /// RFC 7541 §5.1: an integer in the low `prefixBits` of a first byte whose high bits are
    /// `pattern`, continued in 7-bit groups when it does not fit.
    static func writeInteger(_ value: Int, prefixBits: Int, pattern: UInt8, into buffer: inout ByteBuffer) {
        precondition(value >= 0)
        let limit = (1 << prefixBits) - 1
        if value < limit {
            buffer.writeInteger(pattern | UInt8(value))
            return
        }
        buffer.writeInteger(pattern | UInt8(limit))
        var rest = value - limit
        while rest >= 128 {
            buffer.writeInteger(UInt8(rest & 0x7f | 0x80))
            rest >>= 7
        }
        buffer.writeInteger(UInt8(rest))
    }
}

import NIOCore

/// Reading the payloads of frames that carry padding (DATA, HEADERS), for Keel's server and
/// client alike, and naming error codes.
extension HTTP2Wire {
    /// The data of a DATA frame: its payload without the pad length byte and the padding.
    ///
    ///     +---------------+----------------------+-----------------+
    ///     | pad length (8)| data                 | padding         |
    ///     | if PADDED     |                      | (pad length)    |
    ///     +---------------+----------------------+-----------------+
    static func dataBytes(_ header: FrameHeader, _ payload: ByteBuffer) throws(ConnectionError) -> ByteBuffer {
        var payload = payload
        try removePadding(header, &payload)
        return payload
    }

    /// The header block fragment of a HEADERS frame: without padding and without the priority
    /// fields (stream dependency and weight, 5 bytes) when the PRIORITY flag is set.
    static func headerBlockFragment(
        _ header: FrameHeader, _ payload: ByteBuffer
    ) throws(ConnectionError) -> ByteBuffer {
        var payload = payload
        try removePadding(header, &payload)
        if header.has(Flags.priority) {
            guard payload.readableBytes >= 5 else {
                throw ConnectionError(.frameSizeError, "HEADERS with PRIORITY of \(header.length) bytes")
            }
            payload.moveReaderIndex(forwardBy: 5)
        }
        return payload
    }

    /// RFC 9113 §6.1: padding as long as the payload or longer is a PROTOCOL_ERROR.
    private static func removePadding(_ header: FrameHeader, _ payload: inout ByteBuffer) throws(ConnectionError) {
        guard header.has(Flags.padded) else { return }
        guard let padBytes = payload.readInteger(as: UInt8.self), Int(padBytes) <= payload.readableBytes else {
            throw ConnectionError(.protocolError, "padding longer than its frame (\(header.length) bytes)")
        }
        payload.moveWriterIndex(to: payload.writerIndex - Int(padBytes))
    }

    /// An error code as RFC 9113 names it, or its number when it has no name.
    static func name(of code: UInt32) -> String {
        guard let known = ErrorCode(rawValue: code) else { return "0x" + String(code, radix: 16) }
        return switch known {
        case .noError: "NO_ERROR"
        case .protocolError: "PROTOCOL_ERROR"
        case .internalError: "INTERNAL_ERROR"
        case .flowControlError: "FLOW_CONTROL_ERROR"
        case .settingsTimeout: "SETTINGS_TIMEOUT"
        case .streamClosed: "STREAM_CLOSED"
        case .frameSizeError: "FRAME_SIZE_ERROR"
        case .refusedStream: "REFUSED_STREAM"
        case .cancel: "CANCEL"
        case .compressionError: "COMPRESSION_ERROR"
        case .connectError: "CONNECT_ERROR"
        case .enhanceYourCalm: "ENHANCE_YOUR_CALM"
        }
    }
}

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

    /// The values of a SETTINGS frame (RFC 9113 §6.5), in order, each checked against its
    /// range; nil for an acknowledgement. Unknown settings are left out, as they are to be
    /// ignored.
    static func settings(_ header: FrameHeader, _ payload: ByteBuffer) throws(ConnectionError) -> [(Setting, Int)]? {
        guard header.streamID == 0 else { throw ConnectionError(.protocolError, "SETTINGS on stream \(header.streamID)") }
        if header.has(Flags.ack) {
            guard header.length == 0 else { throw ConnectionError(.frameSizeError, "SETTINGS ACK of \(header.length) bytes") }
            return nil
        }
        guard header.length % 6 == 0 else { throw ConnectionError(.frameSizeError, "SETTINGS of \(header.length) bytes") }
        var payload = payload
        var settings: [(Setting, Int)] = []
        while let identifier = payload.readInteger(as: UInt16.self), let raw = payload.readInteger(as: UInt32.self) {
            guard let setting = Setting(rawValue: identifier) else { continue }
            let value = Int(raw)
            switch setting {
            case .enablePush:
                guard value <= 1 else { throw ConnectionError(.protocolError, "SETTINGS_ENABLE_PUSH of \(value)") }
            case .initialWindowSize:
                guard value <= windowMax else { throw ConnectionError(.flowControlError, "SETTINGS_INITIAL_WINDOW_SIZE of \(value)") }
            case .maxFrameSize:
                guard value >= maxFrameSizeDefault && value < 1 << 24 else {
                    throw ConnectionError(.protocolError, "SETTINGS_MAX_FRAME_SIZE of \(value)")
                }
            case .headerTableSize, .maxConcurrentStreams, .maxHeaderListSize: break
            }
            settings.append((setting, value))
        }
        return settings
    }

    /// The window increment a WINDOW_UPDATE carries (RFC 9113 §6.9); its payload is 4 bytes.
    static func windowIncrement(_ header: FrameHeader, _ payload: ByteBuffer) throws(ConnectionError) -> Int {
        var payload = payload
        guard header.length == 4, let raw = payload.readInteger(as: UInt32.self) else {
            throw ConnectionError(.frameSizeError, "WINDOW_UPDATE of \(header.length) bytes")
        }
        return Int(raw & 0x7fff_ffff)
    }

    /// Grows the connection's send window by a WINDOW_UPDATE's increment: an increment of 0 is
    /// a PROTOCOL_ERROR, a window past 2^31-1 a FLOW_CONTROL_ERROR.
    static func grow(connectionWindow window: inout Int, by increment: Int) throws(ConnectionError) {
        guard increment > 0 else { throw ConnectionError(.protocolError, "WINDOW_UPDATE of 0 on the connection") }
        window += increment
        guard window <= windowMax else { throw ConnectionError(.flowControlError, "the connection's send window above 2^31-1") }
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

/// A flow-control window this side grants its peer (RFC 9113 §6.9), for a connection or one
/// stream: the DATA bytes (padding included) the peer may still send, and those received
/// since the last WINDOW_UPDATE, which are given back once half the window's size is used.
struct HTTP2ReceiveWindow {
    /// The window's size: grants are made once half of it is used.
    let size: Int
    /// Bytes the peer may still send.
    private(set) var available: Int
    private var unacknowledged = 0

    /// A window of `size` bytes, all of them open to the peer.
    init(size: Int) {
        self.init(size: size, available: size)
    }

    /// A window whose peer may send `available` bytes now (the connection's, which starts at
    /// the protocol's default however small `size` is).
    init(size: Int, available: Int) {
        self.size = size
        self.available = available
    }

    /// Counts `bytes` received; false when they overran the window (a FLOW_CONTROL_ERROR).
    mutating func receive(_ bytes: Int) -> Bool {
        available -= bytes
        unacknowledged += bytes
        return available >= 0
    }

    /// The increment for a WINDOW_UPDATE once half the window is used (counted as granted
    /// here), else nil.
    mutating func grant() -> Int? {
        guard unacknowledged >= size / 2, unacknowledged > 0 else { return nil }
        defer { unacknowledged = 0 }
        available += unacknowledged
        return unacknowledged
    }
}

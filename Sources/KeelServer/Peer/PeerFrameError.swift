/// Why bytes from a peer (or a message meant for one) are not a valid frame. Every decoding
/// failure of ``PeerFrameCodec`` and ``RaftMessageCodec`` is one of these: garbage or truncated
/// input never traps. The transport closes a connection whose stream yields one.
public enum PeerFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The frame (header included) is larger than the limit; nothing was written or read.
    case frameTooLarge(bytes: Int, limit: Int)
    /// The frame was written by a protocol version this member does not speak.
    case unsupportedVersion(UInt8)
    /// The header names a frame kind this version does not know.
    case unknownKind(UInt8)
    /// The checksum does not match the header and body: the bytes were damaged.
    case checksumMismatch(expected: UInt32, computed: UInt32)
    /// The input ends before the frame does (decoding a whole buffer; a stream waits instead).
    case truncated(needed: Int, available: Int)
    /// The frame checks out but its body is not a valid encoding of what its kind says.
    case malformed(String)

    public var description: String {
        switch self {
        case .frameTooLarge(let bytes, let limit):
            "peer frame of \(bytes) bytes exceeds the limit of \(limit) bytes"
        case .unsupportedVersion(let version):
            "peer frame has protocol version \(version); this member speaks version \(PeerFrameCodec.version)"
        case .unknownKind(let kind): "peer frame has unknown kind \(kind)"
        case .checksumMismatch(let expected, let computed):
            "peer frame checksum mismatch (frame says \(hex32(expected)), bytes give \(hex32(computed)))"
        case .truncated(let needed, let available):
            "peer frame truncated: \(needed) bytes needed, \(available) available"
        case .malformed(let what): "malformed peer frame: \(what)"
        }
    }
}

private func hex32(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }

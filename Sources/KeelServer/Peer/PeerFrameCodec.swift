import KeelIO
import NIOCore

// MARK: - Peer frame
//
// Everything members say to each other over TCP travels in frames: a 12-byte header and a
// body, little-endian like every other Keel format:
//
//   0          4         5        6          8             12
//   +----------+---------+--------+----------+-------------+----------------------+
//   | length   | version | kind   | 0x0000   | CRC32C      | body                 |
//   | u32      | u8      | u8     | u16      | u32         | length bytes         |
//   +----------+---------+--------+----------+-------------+----------------------+
//
//   CRC32C = CRC32C(header bytes 4 ..< 8, then the body)
//
// `length` counts the body only. A reader checks `12 + length` against its frame limit before
// it waits for (or allocates) the body, so a damaged or hostile length costs nothing. The
// checksum covers version, kind and reserved bytes as well as the body; TCP's own checksum is
// too weak for a store that must never apply a damaged entry. `version` is the peer protocol
// version: a frame of another version is refused whole (its layout may differ after byte 6).
//
// Kinds (bodies are described next to the code that writes them):
//   1 hello           first frame on every connection: who is calling whom (PeerHandshake)
//   2 helloReply      the answer: accepted, or why not (PeerHandshake)
//   3 message         one raft message (RaftMessageCodec)
//   4 snapshotBegin   a snapshot message without its data; data length follows (RaftMessageCodec)
//   5 snapshotChunk   the next bytes of the snapshot data, raw
//   6 snapshotAck     empty: the receiver handed the whole snapshot to its raft loop
//   7 request         a call on a requests connection: id, method, payload (PeerRequestCodec)
//   8 response        its answer: id, status, error text or payload (PeerRequestCodec)

/// What a frame carries.
public enum PeerFrameKind: UInt8, Sendable, CaseIterable {
    case hello = 1
    case helloReply = 2
    case message = 3
    case snapshotBegin = 4
    case snapshotChunk = 5
    case snapshotAck = 6
    case request = 7
    case response = 8
}

/// One frame read from a peer: its kind and body (a slice of the read buffer).
public struct PeerFrame: Sendable {
    public var kind: PeerFrameKind
    public var body: ByteBuffer
}

/// Writes and reads the frame header of every peer connection (layout above).
public enum PeerFrameCodec {
    /// The peer protocol version this build speaks (the header's version byte).
    public static let version: UInt8 = 1
    public static let headerBytes = 12
    /// Default limit on one frame, header included: room for a batch of appends at etcd's
    /// 1.5 MiB request limit, far below what would hurt a member's memory.
    public static let frameBytesMaxDefault = 64 << 20

    /// Appends one frame of `kind` to `buffer`; `body` writes the body after the header. On
    /// `frameTooLarge`, `buffer` is left as it was.
    public static func write(
        _ kind: PeerFrameKind, into buffer: inout ByteBuffer, frameBytesMax: Int,
        body: (inout ByteBuffer) -> Void
    ) throws(PeerFrameError) {
        let start = buffer.writerIndex
        buffer.writeRepeatingByte(0, count: headerBytes)
        body(&buffer)
        let frameBytes = buffer.writerIndex - start
        guard frameBytes <= frameBytesMax, frameBytes - headerBytes <= Int(UInt32.max) else {
            buffer.moveWriterIndex(to: start)
            throw .frameTooLarge(bytes: frameBytes, limit: frameBytesMax)
        }
        buffer.setInteger(UInt32(frameBytes - headerBytes), at: start, endianness: .little)
        buffer.setInteger(version, at: start + 4)
        buffer.setInteger(kind.rawValue, at: start + 5)
        let crc = buffer.withUnsafeReadableBytes { bytes in
            let base = start - buffer.readerIndex
            let tagged = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[(base + 4)..<(base + 8)]))
            return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[(base + headerBytes)..<(base + frameBytes)]), continuing: tagged)
        }
        buffer.setInteger(crc, at: start + 8, endianness: .little)
    }

    /// Reads the next frame from the front of `buffer`: nil (nothing consumed) when the frame is
    /// not complete yet. Checks the limit as soon as the header is there, then the version,
    /// the checksum and the kind.
    public static func read(from buffer: inout ByteBuffer, frameBytesMax: Int) throws(PeerFrameError) -> PeerFrame? {
        guard buffer.readableBytes >= headerBytes,
              let length = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self),
              let frameVersion = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self),
              let kindByte = buffer.getInteger(at: buffer.readerIndex + 5, as: UInt8.self),
              let reserved = buffer.getInteger(at: buffer.readerIndex + 6, endianness: .little, as: UInt16.self),
              let expected = buffer.getInteger(at: buffer.readerIndex + 8, endianness: .little, as: UInt32.self)
        else { return nil }
        let frameBytes = headerBytes + Int(length)
        guard frameBytes <= frameBytesMax else { throw .frameTooLarge(bytes: frameBytes, limit: frameBytesMax) }
        guard frameVersion == version else { throw .unsupportedVersion(frameVersion) }
        guard buffer.readableBytes >= frameBytes else { return nil }
        let computed = buffer.withUnsafeReadableBytes { bytes in
            let tagged = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[4..<8]))
            return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[headerBytes..<frameBytes]), continuing: tagged)
        }
        guard computed == expected else { throw .checksumMismatch(expected: expected, computed: computed) }
        guard let kind = PeerFrameKind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        guard reserved == 0 else { throw .malformed("reserved header bytes are not zero") }
        buffer.moveReaderIndex(forwardBy: headerBytes)
        let body = buffer.readSlice(length: Int(length))!
        return PeerFrame(kind: kind, body: body)
    }
}

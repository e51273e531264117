import KeelRaft
import NIOCore

// MARK: - Raft message body (frame kinds 3 and 4)
//
// One `KeelRaft.Message`, little-endian, after the frame header of PeerFrameCodec.swift:
//
//   0      1       2        4           8      16      24      32        40      48       56          64         72
//   +------+-------+--------+-----------+------+-------+-------+---------+-------+--------+-----------+----------+
//   | type | flags | 0x0000 | entries n | to   | from  | term  | logTerm | index | commit | hintIndex | hintTerm |
//   | u8   | u8    | u16    | u32       | u64  | u64   | u64   | u64     | u64   | u64    | u64       | u64      |
//   +------+-------+--------+-----------+------+-------+-------+---------+-------+--------+-----------+----------+
//   72: context length u32 | context bytes
//   then n entries, each:     term u64 | index u64 | kind u8 | data length u32 | data
//   then, if flags bit 1:     snapshot index u64 | snapshot term u64 | voters v u32 | learners l u32
//                             | voter ids u64 × v (increasing) | learner ids u64 × l (increasing)
//                             | data length u64 | data (kind 3 only: a snapshotBegin frame stops
//                               after the length and the data follows in snapshotChunk frames)
//
//   flags: bit 0 = reject, bit 1 = a snapshot is present; other bits 0.
//   type:  the wire codes of `wireCode` below; local message types never go on the wire.
//
// The body must be used up exactly: trailing bytes are refused like missing ones.

/// Encodes raft messages into peer frames and decodes them back (layouts above and in
/// PeerFrameCodec.swift). Decoding refuses, with a ``PeerFrameError``, anything that is not
/// exactly what `encode` writes.
public enum RaftMessageCodec {
    static let fixedBytes = 76
    static let entryFixedBytes = 21

    /// The frame of `message` (kind `message`, snapshot data inline).
    /// - Precondition: `message.type` is not local.
    public static func encode(_ message: KeelRaft.Message, frameBytesMax: Int = PeerFrameCodec.frameBytesMaxDefault) throws(PeerFrameError) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: Int(message.sizeBytes) + 128)
        try encode(message, into: &buffer, frameBytesMax: frameBytesMax)
        return Array(buffer.readableBytesView)
    }

    /// Appends the frame of `message` to `buffer` (unchanged on error).
    public static func encode(_ message: KeelRaft.Message, into buffer: inout ByteBuffer, frameBytesMax: Int) throws(PeerFrameError) {
        try PeerFrameCodec.write(.message, into: &buffer, frameBytesMax: frameBytesMax) { writeBody(message, snapshotData: true, into: &$0) }
    }

    /// Appends the `snapshotBegin` frame of a snapshot message: the message with its snapshot
    /// metadata and the data's length, not the data.
    /// `dataBytes`: the length to announce when the data does not travel in the message (it is
    /// read from a file); nil: the message's data length.
    static func encodeSnapshotBegin(_ message: KeelRaft.Message, dataBytes: Int? = nil, into buffer: inout ByteBuffer,
                                    frameBytesMax: Int) throws(PeerFrameError) {
        precondition(message.snapshot != nil, "a snapshotBegin frame needs a snapshot")
        try PeerFrameCodec.write(.snapshotBegin, into: &buffer, frameBytesMax: frameBytesMax) {
            writeBody(message, snapshotData: false, dataBytes: dataBytes, into: &$0)
        }
    }

    /// Decodes the one `message` frame at the start of `bytes`; returns it with the bytes the
    /// frame took. `.truncated` when `bytes` end inside the frame.
    public static func decode(_ bytes: [UInt8], frameBytesMax: Int = PeerFrameCodec.frameBytesMaxDefault) throws(PeerFrameError) -> (message: KeelRaft.Message, frameBytes: Int) {
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        guard let frame = try PeerFrameCodec.read(from: &buffer, frameBytesMax: frameBytesMax) else {
            let needed = bytes.count >= PeerFrameCodec.headerBytes
                ? PeerFrameCodec.headerBytes + Int(buffer.getInteger(at: 0, endianness: .little, as: UInt32.self)!)
                : PeerFrameCodec.headerBytes
            throw .truncated(needed: needed, available: bytes.count)
        }
        guard frame.kind == .message else { throw .malformed("expected a message frame, found \(frame.kind)") }
        var body = frame.body
        return (try readBody(&body, snapshotData: true).message, buffer.readerIndex)
    }

    private static func writeBody(_ message: KeelRaft.Message, snapshotData: Bool, dataBytes: Int? = nil, into buffer: inout ByteBuffer) {
        precondition(!message.type.isLocal, "the local message \(message.type) never crosses the network")
        precondition(message.entries.count <= Int(UInt32.max) && message.context.count <= Int(UInt32.max))
        buffer.writeInteger(wireCode(message.type))
        buffer.writeInteger(UInt8((message.reject ? 1 : 0) | (message.snapshot != nil ? 2 : 0)))
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(UInt32(message.entries.count), endianness: .little)
        for word in [message.to.rawValue, message.from.rawValue, message.term.rawValue, message.logTerm.rawValue,
                     message.index.rawValue, message.commit.rawValue, message.rejectHintIndex.rawValue,
                     message.rejectHintTerm.rawValue] {
            buffer.writeInteger(word, endianness: .little)
        }
        buffer.writeInteger(UInt32(message.context.count), endianness: .little)
        buffer.writeBytes(message.context)
        for entry in message.entries {
            precondition(entry.data.count <= Int(UInt32.max))
            buffer.writeInteger(entry.term.rawValue, endianness: .little)
            buffer.writeInteger(entry.index.rawValue, endianness: .little)
            buffer.writeInteger(entry.kind.rawValue)
            buffer.writeInteger(UInt32(entry.data.count), endianness: .little)
            buffer.writeBytes(entry.data)
        }
        guard let snapshot = message.snapshot else { return }
        let conf = snapshot.metadata.confState
        buffer.writeInteger(snapshot.metadata.index.rawValue, endianness: .little)
        buffer.writeInteger(snapshot.metadata.term.rawValue, endianness: .little)
        buffer.writeInteger(UInt32(conf.voters.count), endianness: .little)
        buffer.writeInteger(UInt32(conf.learners.count), endianness: .little)
        for id in conf.voters + conf.learners { buffer.writeInteger(id.rawValue, endianness: .little) }
        buffer.writeInteger(UInt64(dataBytes ?? snapshot.data.count), endianness: .little)
        if snapshotData { buffer.writeBytes(snapshot.data) }
    }
}

import KeelIO

// MARK: - Record framing
//
// Every WAL record is a 16-byte header, its payload, and zero padding to the next multiple
// of 8 bytes, all little-endian:
//
//   0        4     5     6        8             12            16
//   +--------+-----+-----+--------+-------------+-------------+---------------+----------+
//   | length | type| pad | 0x0000 | payload CRC | header CRC  | payload       | pad × 00 |
//   | u32    | u8  | u8  | u16    | u32         | u32         | length bytes  | 0 ... 7  |
//   +--------+-----+-----+--------+-------------+-------------+---------------+----------+
//
//   payload CRC = CRC32C(payload)        header CRC = CRC32C(bytes 0 ..< 12 of the header)
//
// The header has its own checksum so that a damaged length is recognised before it is
// trusted. Type 0 is never written: a header of 16 zero bytes is the preallocated space after
// the last record.
//
// The CRC stands per record; it does not chain across records as etcd's does. An appender
// encodes and checksums its record on its own thread before it takes the group-commit lock,
// so the lock only covers a copy; a chained CRC would serialise the checksumming of every
// record behind that lock. What a chain would add — noticing a record that belongs to an
// older log — is covered otherwise: segment files are never reused (a new one reads as zeros
// past what was written), each segment starts with a header naming its sequence number, and
// replay checks that entry indexes follow each other.
//
// Payloads:
//   segment header (type 1): "KEELWAL\0" | version u32 | prefix bytes u32 | sequence u64 | first index u64
//     (prefix bytes: the size of the records written when the segment was created — this
//     header, then the hard state and snapshot marker in force — all fsynced before the
//     segment got its name, so damage inside them is never a torn tail)
//   entry          (type 2): term u64 | index u64 | kind u8 | 0 × 7 | data
//   hard state     (type 3): term u64 | vote u64 | commit u64
//   snapshot       (type 4): index u64 | term u64

/// The record types on disk.
enum RecordType: UInt8 {
    case segmentHeader = 1
    case entry = 2
    case hardState = 3
    case snapshot = 4
}

/// Constants of the on-disk format.
public enum RecordFormat {
    public static let headerBytes = 16
    public static let alignment = 8
    /// The largest payload one record may carry (an entry's data plus 24 bytes).
    public static let payloadBytesMax = 64 << 20
    /// The most bytes the group-commit writes in flight at one time may carry together (each
    /// write holding more than one record). Recovery relies on it: torn final writes cannot
    /// have left valid records further than this past the first damaged one.
    public static let batchBytesCeiling = 4 << 20
    static let magic: UInt64 = 0x004C_4157_4C45_454B // "KEELWAL\0" little-endian
    static let version: UInt32 = 1

    /// Bytes a record with `payloadBytes` of payload takes on disk.
    @inline(__always)
    public static func encodedSize(payloadBytes: Int) -> Int {
        headerBytes + (payloadBytes + alignment - 1) / alignment * alignment
    }
}

/// A record checksummed and ready to copy into a batch: built on the appender's thread, so
/// that the group-commit lock covers only `write(to:)`.
struct PreparedRecord {
    let type: RecordType
    /// The fixed part of the payload (up to 32 bytes) in little-endian words.
    private var words: (UInt64, UInt64, UInt64, UInt64)
    private let wordCount: Int
    /// The variable part of the payload (an entry's data).
    let data: [UInt8]
    private var header: (UInt64, UInt64) = (0, 0)
    let encodedSize: Int

    init(_ record: WALRecord) {
        switch record {
        case .entry(let entry):
            self.init(type: .entry, words: (entry.term.rawValue, entry.index.rawValue, UInt64(entry.kind.rawValue), 0), count: 3, data: entry.data)
        case .hardState(let state):
            self.init(type: .hardState, words: (state.term.rawValue, state.vote.rawValue, state.commit.rawValue, 0), count: 3, data: [])
        case .snapshot(let marker):
            self.init(type: .snapshot, words: (marker.index.rawValue, marker.term.rawValue, 0, 0), count: 2, data: [])
        }
    }

    static func segmentHeader(sequence: UInt64, firstIndex: LogIndex, prefixBytes: Int) -> PreparedRecord {
        precondition(prefixBytes >= 0 && prefixBytes <= Int(UInt32.max))
        let second = UInt64(RecordFormat.version) | UInt64(prefixBytes) << 32
        return PreparedRecord(type: .segmentHeader, words: (RecordFormat.magic, second, sequence, firstIndex.rawValue), count: 4, data: [])
    }

    private init(type: RecordType, words: (UInt64, UInt64, UInt64, UInt64), count: Int, data: [UInt8]) {
        self.type = type
        self.words = (words.0.littleEndian, words.1.littleEndian, words.2.littleEndian, words.3.littleEndian)
        self.wordCount = count
        self.data = data
        let payloadBytes = count * 8 + data.count
        self.encodedSize = RecordFormat.encodedSize(payloadBytes: payloadBytes)
        let fixedCRC = withUnsafeBytes(of: self.words) { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<count * 8])) }
        let payloadCRC = data.withUnsafeBytes { CRC32C.checksum($0, continuing: fixedCRC) }
        let padding = UInt64(encodedSize - RecordFormat.headerBytes - payloadBytes)
        let first = UInt64(UInt32(payloadBytes)) | UInt64(type.rawValue) << 32 | padding << 40
        var crcs = UInt64(payloadCRC)
        let headerCRC = withUnsafeBytes(of: (first.littleEndian, UInt32(payloadCRC).littleEndian)) {
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<12]))
        }
        crcs |= UInt64(headerCRC) << 32
        self.header = (first.littleEndian, crcs.littleEndian)
    }

    var payloadBytes: Int { wordCount * 8 + data.count }

    /// Writes exactly `encodedSize` bytes at `destination`.
    func write(to destination: UnsafeMutableRawPointer) {
        withUnsafeBytes(of: header) { destination.copyMemory(from: $0.baseAddress!, byteCount: 16) }
        withUnsafeBytes(of: words) { destination.advanced(by: 16).copyMemory(from: $0.baseAddress!, byteCount: wordCount * 8) }
        let dataStart = 16 + wordCount * 8
        data.withUnsafeBytes { bytes in
            if bytes.count > 0 { destination.advanced(by: dataStart).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        }
        let end = dataStart + data.count
        if encodedSize > end { destination.advanced(by: end).initializeMemory(as: UInt8.self, repeating: 0, count: encodedSize - end) }
    }
}

/// The header record every segment starts with.
struct SegmentHeader: Equatable {
    var sequence: UInt64
    var firstIndex: LogIndex
    var prefixBytes: Int
    /// Bytes of a segment header record.
    static let encodedSize = RecordFormat.encodedSize(payloadBytes: 32)
}

/// A record read back from a segment.
enum DecodedRecord: Equatable {
    case segmentHeader(SegmentHeader)
    case record(WALRecord)
}

/// What is found at an offset of a segment.
enum DecodeOutcome: Equatable {
    /// A verified record and the offset of the next one.
    case record(DecodedRecord, next: Int)
    /// The end of the bytes.
    case end
    /// A header of zeros: preallocated space that was never written.
    case zeros
    /// A header that verifies but whose record runs past the end of the bytes.
    case truncated(recordBytes: Int)
    /// Bytes that are not a valid record.
    case invalid(String)
}

enum RecordDecoder {
    @inline(__always)
    static func load<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, _ offset: Int, as: T.Type) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Decodes the record at `offset`, verifying both checksums, the padding and the payload.
    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> DecodeOutcome {
        precondition(offset >= 0 && offset <= bytes.count && offset % RecordFormat.alignment == 0)
        if offset == bytes.count { return .end }
        guard bytes.count - offset >= RecordFormat.headerBytes else {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            return rest.allSatisfy { $0 == 0 } ? .zeros : .invalid("a partial record header")
        }
        let first = load(bytes, offset, as: UInt64.self)
        let crcs = load(bytes, offset + 8, as: UInt64.self)
        if first == 0 && crcs == 0 { return .zeros }
        let headerCRC = UInt32(truncatingIfNeeded: crcs >> 32)
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 12])) == headerCRC else {
            return .invalid("header checksum mismatch")
        }
        let length = Int(UInt32(truncatingIfNeeded: first))
        let typeByte = UInt8(truncatingIfNeeded: first >> 32)
        let padding = Int(UInt8(truncatingIfNeeded: first >> 40))
        guard let type = RecordType(rawValue: typeByte) else { return .invalid("unknown record type \(typeByte)") }
        guard first >> 48 == 0, length <= RecordFormat.payloadBytesMax,
              RecordFormat.encodedSize(payloadBytes: length) == RecordFormat.headerBytes + length + padding
        else { return .invalid("malformed header (length \(length), padding \(padding))") }
        let size = RecordFormat.headerBytes + length + padding
        guard bytes.count - offset >= size else { return .truncated(recordBytes: size) }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[offset + 16..<offset + 16 + length])
        guard CRC32C.checksum(payload) == UInt32(truncatingIfNeeded: crcs) else {
            return .invalid("payload checksum mismatch")
        }
        guard bytes[(offset + 16 + length)..<(offset + size)].allSatisfy({ $0 == 0 }) else {
            return .invalid("non-zero padding")
        }
        guard let decoded = parse(type, payload) else { return .invalid("malformed \(type) payload") }
        return .record(decoded, next: offset + size)
    }

    private static func parse(_ type: RecordType, _ payload: UnsafeRawBufferPointer) -> DecodedRecord? {
        func word(_ i: Int) -> UInt64 { load(payload, i * 8, as: UInt64.self) }
        switch type {
        case .segmentHeader:
            guard payload.count == 32, word(0) == RecordFormat.magic, UInt32(truncatingIfNeeded: word(1)) == RecordFormat.version
            else { return nil }
            let prefixBytes = Int(word(1) >> 32)
            guard prefixBytes >= SegmentHeader.encodedSize else { return nil }
            return .segmentHeader(SegmentHeader(sequence: word(2), firstIndex: LogIndex(word(3)), prefixBytes: prefixBytes))
        case .entry:
            guard payload.count >= 24, word(2) >> 8 == 0, let kind = EntryKind(rawValue: UInt8(word(2))) else { return nil }
            let data = [UInt8](UnsafeRawBufferPointer(rebasing: payload[24...]))
            return .record(.entry(WALEntry(term: Term(word(0)), index: LogIndex(word(1)), kind: kind, data: data)))
        case .hardState:
            guard payload.count == 24 else { return nil }
            return .record(.hardState(HardState(term: Term(word(0)), vote: MemberID(word(1)), commit: LogIndex(word(2)))))
        case .snapshot:
            guard payload.count == 16 else { return nil }
            return .record(.snapshot(SnapshotMarker(index: LogIndex(word(0)), term: Term(word(1)))))
        }
    }

    /// Whether any verifiable record starts at an 8-aligned offset in `range`: used to tell
    /// a torn tail (nothing valid after the damage) from damage in the middle of the log.
    static func firstValidRecord(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>) -> Int? {
        var offset = (range.lowerBound + RecordFormat.alignment - 1) / RecordFormat.alignment * RecordFormat.alignment
        while offset + RecordFormat.headerBytes <= range.upperBound {
            let typeByte = bytes[offset + 4]
            if typeByte != 0, RecordType(rawValue: typeByte) != nil,
               case .record = decode(bytes, at: offset) {
                return offset
            }
            offset += RecordFormat.alignment
        }
        return nil
    }
}

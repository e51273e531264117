/// The value of a `key` bucket row: a KeyValue in protobuf's wire format, byte for byte what
/// etcd's mvccpb.KeyValue marshals to, so a bucket can be compared with (or hashed like) etcd's.
///
///     field  wire type   what
///     1      2 (bytes)   key
///     2      0 (varint)  create_revision   int64: a negative number takes ten bytes
///     3      0 (varint)  mod_revision
///     4      0 (varint)  version
///     5      2 (bytes)   value
///     6      0 (varint)  lease
///
/// Fields are written in that order and omitted when zero or empty (proto3); a tombstone row
/// holds a KeyValue with only the key. Decoding accepts any order, repeated fields (the last
/// wins) and unknown fields, as a protobuf parser does, and returns nil for anything that is
/// not a well-formed message.
public enum RowCodec {
    public static func encode(_ kv: KeyValue) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(kv.key.count + kv.value.count + 40)
        appendBytes(1, kv.key, to: &bytes)
        appendVarint(2, kv.createRevision, to: &bytes)
        appendVarint(3, kv.modRevision, to: &bytes)
        appendVarint(4, kv.version, to: &bytes)
        appendBytes(5, kv.value, to: &bytes)
        appendVarint(6, kv.lease.rawValue, to: &bytes)
        return bytes
    }

    /// The row of a deletion of `key`.
    public static func encodeTombstone(key: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        appendBytes(1, key, to: &bytes)
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) -> KeyValue? {
        bytes.withUnsafeBytes { decode($0) }
    }

    /// Decodes from bytes that need not outlive the call (a mapped page).
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> KeyValue? {
        var reader = Reader(bytes: bytes)
        var kv = KeyValue(key: [], createRevision: 0, modRevision: 0, version: 0, value: [])
        while !reader.atEnd {
            guard let tag = reader.varint(), tag >> 3 >= 1, tag >> 3 <= UInt64(Int32.max) else { return nil }
            let field = tag >> 3
            switch (field, tag & 7) {
            case (1, 2), (5, 2):
                guard let slice = reader.lengthDelimited() else { return nil }
                if field == 1 { kv.key = slice } else { kv.value = slice }
            case (2, 0), (3, 0), (4, 0), (6, 0):
                guard let raw = reader.varint() else { return nil }
                let value = Int64(bitPattern: raw)
                switch field {
                case 2: kv.createRevision = value
                case 3: kv.modRevision = value
                case 4: kv.version = value
                default: kv.lease = LeaseID(value)
                }
            case (1...6, _):
                // A known field with the wrong wire type: not an mvccpb.KeyValue.
                return nil
            default:
                guard reader.skip(wireType: tag & 7) else { return nil }
            }
        }
        return kv
    }

    // MARK: Writing

    private static func appendVarint(_ field: UInt64, _ value: Int64, to bytes: inout [UInt8]) {
        guard value != 0 else { return }
        appendRawVarint(field << 3, to: &bytes)
        appendRawVarint(UInt64(bitPattern: value), to: &bytes)
    }

    private static func appendBytes(_ field: UInt64, _ value: [UInt8], to bytes: inout [UInt8]) {
        guard !value.isEmpty else { return }
        appendRawVarint(field << 3 | 2, to: &bytes)
        appendRawVarint(UInt64(value.count), to: &bytes)
        bytes.append(contentsOf: value)
    }

    private static func appendRawVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    // MARK: Reading

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var atEnd: Bool { offset >= bytes.count }

        /// A varint of at most ten bytes whose tenth byte carries only the top bit.
        mutating func varint() -> UInt64? {
            var result: UInt64 = 0
            for index in 0..<10 {
                guard offset < bytes.count else { return nil }
                let byte = bytes[offset]
                offset += 1
                if index == 9 && byte > 1 { return nil }
                result |= UInt64(byte & 0x7F) << (7 * UInt64(index))
                if byte & 0x80 == 0 { return result }
            }
            return nil
        }

        mutating func lengthDelimited() -> [UInt8]? {
            guard let length = varint(), length <= UInt64(bytes.count - offset) else { return nil }
            let start = offset
            offset += Int(length)
            return [UInt8](bytes[start..<offset])
        }

        /// Steps over an unknown field's payload; false when it is malformed or a group.
        mutating func skip(wireType: UInt64) -> Bool {
            switch wireType {
            case 0: return varint() != nil
            case 1: return advance(8)
            case 2: return lengthDelimited() != nil
            case 5: return advance(4)
            default: return false
            }
        }

        private mutating func advance(_ count: Int) -> Bool {
            guard bytes.count - offset >= count else { return false }
            offset += count
            return true
        }
    }
}

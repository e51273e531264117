/// The raft entry the key space has applied up to: etcd's consistent index and its term.
/// Recorded in the `meta` bucket in the same B+tree transaction as the changes it covers, so
/// that after a restart the key space and this position agree.
public struct ConsistentIndex: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var index: UInt64
    public var term: UInt64

    public init(index: UInt64, term: UInt64) {
        self.index = index
        self.term = term
    }

    public static let zero = ConsistentIndex(index: 0, term: 0)

    public static func < (a: Self, b: Self) -> Bool { a.index < b.index }

    public var description: String { "\(index)@\(term)" }
}

/// The buckets and `meta` keys, named and encoded as etcd names and encodes them.
enum KVStoreSchema {
    static let keyBucket = Array("key".utf8)
    static let metaBucket = Array("meta".utf8)
    /// Every bucket a Keel member's database has; created on first open.
    static let buckets = ["key", "meta", "lease", "members", "auth", "alarm"].map { Array($0.utf8) }

    /// 8 bytes, big-endian.
    static let consistentIndexKey = Array("consistent_index".utf8)
    static let termKey = Array("term".utf8)
    /// A revision's 17 key bytes (main, sub 0), as etcd writes them.
    static let scheduledCompactKey = Array("scheduledCompactRev".utf8)
    static let finishedCompactKey = Array("finishedCompactRev".utf8)

    static func encode(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(7 - $0))) }
    }

    static func decodeUInt64(_ bytes: [UInt8]?) -> UInt64? {
        guard let bytes, bytes.count == 8 else { return nil }
        return bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func encodeRevision(_ main: Int64) -> [UInt8] { Revision(main: main).keyBytes() }

    static func decodeRevision(_ bytes: [UInt8]?) -> Int64? {
        guard let bytes else { return nil }
        return Revision(keyBytes: bytes)?.main
    }
}

/// A point in the key space's history. `main` counts write transactions, as etcd's revision
/// does (every Put, DeleteRange or Txn that changes something gets the next one); `sub`
/// orders the changes inside one of them, from 0.
public struct Revision: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var main: Int64
    public var sub: Int64

    public init(main: Int64, sub: Int64 = 0) {
        self.main = main
        self.sub = sub
    }

    public static func < (a: Revision, b: Revision) -> Bool {
        a.main != b.main ? a.main < b.main : a.sub < b.sub
    }

    public var description: String { "\(main).\(sub)" }

    /// The bytes of a revision as a key of the `key` bucket, so that byte order is revision
    /// order and one main revision's rows are adjacent:
    ///
    ///     0        8   9        17  18
    ///     +--------+---+--------+---+
    ///     | main   | _ | sub    | t |   big-endian; the trailing `t` only on a tombstone
    ///     +--------+---+--------+---+
    public static let keyBytes = 17

    public func keyBytes(tombstone: Bool = false) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.keyBytes + (tombstone ? 1 : 0))
        for shift in 0..<8 {
            bytes[7 - shift] = UInt8(truncatingIfNeeded: UInt64(bitPattern: main) >> (8 * UInt64(shift)))
            bytes[16 - shift] = UInt8(truncatingIfNeeded: UInt64(bitPattern: sub) >> (8 * UInt64(shift)))
        }
        bytes[8] = UInt8(ascii: "_")
        if tombstone { bytes[17] = UInt8(ascii: "t") }
        return bytes
    }

    /// Reads a `key` bucket key; nil when it is not one. `tombstone` is true for a deletion.
    public init?(keyBytes bytes: some Collection<UInt8>) {
        let array = Array(bytes)
        guard array.count == Self.keyBytes || (array.count == Self.keyBytes + 1 && array[17] == UInt8(ascii: "t")),
              array[8] == UInt8(ascii: "_") else { return nil }
        var main: UInt64 = 0
        var sub: UInt64 = 0
        for index in 0..<8 {
            main = main << 8 | UInt64(array[index])
            sub = sub << 8 | UInt64(array[9 + index])
        }
        self.init(main: Int64(bitPattern: main), sub: Int64(bitPattern: sub))
    }

    /// True when a `key` bucket key marks a deletion.
    public static func isTombstone(keyBytes bytes: some Collection<UInt8>) -> Bool {
        bytes.count == Self.keyBytes + 1 && bytes[bytes.index(bytes.startIndex, offsetBy: 17)] == UInt8(ascii: "t")
    }
}

/// A lease's id as etcd gives it: a signed 64-bit number, 0 meaning "no lease".
public struct LeaseID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ value: Int64) { self.rawValue = value }
    public static let none = LeaseID(0)
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// One version of one key, as etcd's mvccpb.KeyValue carries it. The revisions are main
/// revisions; `version` counts the puts since the key was (re)created, 1 for the first.
public struct KeyValue: Hashable, Sendable {
    public var key: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    public var version: Int64
    public var value: [UInt8]
    public var lease: LeaseID

    public init(key: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, value: [UInt8], lease: LeaseID = .none) {
        self.key = key
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.value = value
        self.lease = lease
    }
}

/// One change to the key space. A deletion's `kv` carries the key and the deleting revision
/// as `modRevision`, with every other field zero, as etcd reports it. `prevKV` is the version
/// before the change, filled only where a caller asked for it.
public struct Event: Hashable, Sendable {
    public enum Kind: Sendable, Hashable { case put, delete }
    public var kind: Kind
    public var kv: KeyValue
    public var prevKV: KeyValue?

    public init(kind: Kind, kv: KeyValue, prevKV: KeyValue? = nil) {
        self.kind = kind
        self.kv = kv
        self.prevKV = prevKV
    }
}

/// A request the key space, lessor or watch engine answers with a refusal rather than a
/// result: protocol outcomes, not faults. The API layer maps each one to etcd's gRPC status
/// and message; `description` is etcd's message.
public enum MVCCRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    /// The revision asked for is below the compacted one.
    case compacted(compactRevision: Int64)
    /// The revision asked for is above the current one.
    case futureRevision
    /// A Txn writes one key twice (or puts and deletes it).
    case duplicateKey
    case leaseNotFound(LeaseID)
    case leaseExists(LeaseID)
    /// A LeaseGrant asked for a TTL above `LessorConfig.ttlSecondsMax`.
    case leaseTTLTooLarge
    /// A put gave ignore_value or ignore_lease for a key that does not exist.
    case keyNotFound

    public var description: String {
        switch self {
        case .compacted: "mvcc: required revision has been compacted"
        case .futureRevision: "mvcc: required revision is a future revision"
        case .duplicateKey: "etcdserver: duplicate key given in txn request"
        case .leaseNotFound: "etcdserver: requested lease not found"
        case .leaseExists: "etcdserver: lease already exists"
        case .leaseTTLTooLarge: "etcdserver: too large lease TTL"
        case .keyNotFound: "etcdserver: key not found"
        }
    }
}

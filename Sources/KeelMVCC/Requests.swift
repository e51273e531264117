/// The key space's requests and responses, field for field etcd's etcdserverpb messages of the
/// same names (RangeRequest, PutRequest, DeleteRangeRequest, TxnRequest, Compare, RequestOp
/// and their responses), without the parts that belong to the API layer (headers other than the
/// revision, serializable, the size and key checks). The API layer maps protobuf to these.
///
/// Range ends follow etcd: an empty `rangeEnd` means the one key `key`; `[0]` means every key
/// at or above `key`; otherwise the keys in [`key`, `rangeEnd`) by unsigned byte order.
public struct RangeRequest: Hashable, Sendable {
    public enum SortOrder: Hashable, Sendable { case none, ascend, descend }
    public enum SortTarget: Hashable, Sendable { case key, version, create, mod, value }

    public var key: [UInt8]
    public var rangeEnd: [UInt8]
    /// At most this many keys (0 or less: no limit).
    public var limit: Int64
    /// The revision to read at; 0 or less means the current one.
    public var revision: Int64
    public var sortOrder: SortOrder
    public var sortTarget: SortTarget
    public var keysOnly: Bool
    public var countOnly: Bool
    /// Filters on the keys found (0 means no filter); etcd applies them before the limit.
    public var minModRevision: Int64
    public var maxModRevision: Int64
    public var minCreateRevision: Int64
    public var maxCreateRevision: Int64

    public init(key: [UInt8], rangeEnd: [UInt8] = [], limit: Int64 = 0, revision: Int64 = 0,
                sortOrder: SortOrder = .none, sortTarget: SortTarget = .key, keysOnly: Bool = false,
                countOnly: Bool = false, minModRevision: Int64 = 0, maxModRevision: Int64 = 0,
                minCreateRevision: Int64 = 0, maxCreateRevision: Int64 = 0) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.limit = limit
        self.revision = revision
        self.sortOrder = sortOrder
        self.sortTarget = sortTarget
        self.keysOnly = keysOnly
        self.countOnly = countOnly
        self.minModRevision = minModRevision
        self.maxModRevision = maxModRevision
        self.minCreateRevision = minCreateRevision
        self.maxCreateRevision = maxCreateRevision
    }
}

public struct RangeResponse: Hashable, Sendable {
    /// The header's revision: the key space's revision when the range was served (inside a
    /// Txn, including the Txn's own changes so far).
    public var revision: Int64
    public var kvs: [KeyValue]
    /// True when the limit cut the answer short.
    public var more: Bool
    /// How many keys the range holds at the revision read, whatever the limit and filters.
    public var count: Int64

    public init(revision: Int64, kvs: [KeyValue], more: Bool, count: Int64) {
        self.revision = revision
        self.kvs = kvs
        self.more = more
        self.count = count
    }
}

public struct PutRequest: Hashable, Sendable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var lease: LeaseID
    public var prevKV: Bool
    /// Keep the key's current value (the key must exist).
    public var ignoreValue: Bool
    /// Keep the key's current lease (the key must exist).
    public var ignoreLease: Bool

    public init(key: [UInt8], value: [UInt8] = [], lease: LeaseID = .none, prevKV: Bool = false,
                ignoreValue: Bool = false, ignoreLease: Bool = false) {
        self.key = key
        self.value = value
        self.lease = lease
        self.prevKV = prevKV
        self.ignoreValue = ignoreValue
        self.ignoreLease = ignoreLease
    }
}

public struct PutResponse: Hashable, Sendable {
    public var revision: Int64
    public var prevKV: KeyValue?

    public init(revision: Int64, prevKV: KeyValue? = nil) {
        self.revision = revision
        self.prevKV = prevKV
    }
}

public struct DeleteRangeRequest: Hashable, Sendable {
    public var key: [UInt8]
    public var rangeEnd: [UInt8]
    public var prevKV: Bool

    public init(key: [UInt8], rangeEnd: [UInt8] = [], prevKV: Bool = false) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.prevKV = prevKV
    }
}

public struct DeleteRangeResponse: Hashable, Sendable {
    /// The new revision when something was deleted (or the Txn changed something before),
    /// else the current one.
    public var revision: Int64
    public var deleted: Int64
    public var prevKVs: [KeyValue]

    public init(revision: Int64, deleted: Int64, prevKVs: [KeyValue] = []) {
        self.revision = revision
        self.deleted = deleted
        self.prevKVs = prevKVs
    }
}

/// One condition of a Txn, checked against the key space as it was before the Txn (nested
/// Txns' conditions too). With a range, every key in it must pass; an empty range compares a
/// KeyValue of zeros, except that a value comparison on missing keys always fails.
public struct Compare: Hashable, Sendable {
    public enum Result: Hashable, Sendable { case equal, greater, less, notEqual }
    public enum Target: Hashable, Sendable {
        case version(Int64)
        case create(Int64)
        case mod(Int64)
        case value([UInt8])
        case lease(LeaseID)
    }

    public var key: [UInt8]
    public var rangeEnd: [UInt8]
    public var result: Result
    public var target: Target

    public init(key: [UInt8], rangeEnd: [UInt8] = [], _ target: Target, _ result: Result) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.result = result
        self.target = target
    }
}

public indirect enum RequestOp: Hashable, Sendable {
    case range(RangeRequest)
    case put(PutRequest)
    case deleteRange(DeleteRangeRequest)
    case txn(TxnRequest)
}

public indirect enum ResponseOp: Hashable, Sendable {
    case range(RangeResponse)
    case put(PutResponse)
    case deleteRange(DeleteRangeResponse)
    case txn(TxnResponse)
}

public struct TxnRequest: Hashable, Sendable {
    public var compare: [Compare]
    public var success: [RequestOp]
    public var failure: [RequestOp]

    public init(compare: [Compare] = [], success: [RequestOp] = [], failure: [RequestOp] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }
}

public struct TxnResponse: Hashable, Sendable {
    /// The top-level Txn's revision: the new one when it changed something, else the current
    /// one. A nested Txn's response carries 0 here, as etcd leaves its header empty.
    public var revision: Int64
    public var succeeded: Bool
    public var responses: [ResponseOp]

    public init(revision: Int64, succeeded: Bool, responses: [ResponseOp]) {
        self.revision = revision
        self.succeeded = succeeded
        self.responses = responses
    }
}

public struct CompactResponse: Hashable, Sendable {
    /// The current revision when the compaction was accepted.
    public var revision: Int64

    public init(revision: Int64) { self.revision = revision }
}

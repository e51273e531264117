/// A raft term: a number that only grows, each with at most one leader.
public struct Term: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public static let zero = Term(0)
    public var next: Term { Term(rawValue + 1) }
    public var description: String { String(rawValue) }
}

/// A position in the raft log; the first entry has index 1, and 0 means "before the log".
public struct LogIndex: RawRepresentable, Hashable, Comparable, Strideable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public static let zero = LogIndex(0)
    /// Stands for "no bound" (an empty quorum commits anything).
    public static let max = LogIndex(UInt64.max)
    public var next: LogIndex { LogIndex(rawValue + 1) }
    /// The index before this one; precondition: not zero.
    public var previous: LogIndex {
        precondition(rawValue > 0, "no index before 0")
        return LogIndex(rawValue - 1)
    }
    public func distance(to other: LogIndex) -> Int64 { Int64(bitPattern: other.rawValue &- rawValue) }
    public func advanced(by n: Int64) -> LogIndex { LogIndex(UInt64(bitPattern: Int64(bitPattern: rawValue) &+ n)) }
    public var description: String { String(rawValue) }
}

/// A raft member's id; 0 means none (no vote cast, no leader known).
public struct NodeID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public static let none = NodeID(0)
    /// Hex, as etcd prints member ids (`8e9e05c52164694d`).
    public var description: String { String(rawValue, radix: 16) }
}

/// What an entry carries, as raft sees it.
public enum EntryKind: UInt8, Hashable, Sendable {
    /// Application data (may be empty: a new leader appends one empty entry).
    case normal = 0
    /// An encoded ``ConfChange``; raft reads it when it is applied.
    case confChange = 1
}

/// One log entry.
public struct Entry: Hashable, Sendable, CustomStringConvertible {
    public var term: Term
    public var index: LogIndex
    public var kind: EntryKind
    public var data: [UInt8]

    public init(term: Term, index: LogIndex, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// Bytes this entry stands for in message and batch limits: its data plus the fixed
    /// fields, so that a run of empty entries still has a size.
    public var sizeBytes: UInt64 { UInt64(data.count) + 17 }

    public var description: String {
        let payload = String(decoding: data, as: UTF8.self)
        return kind == .normal ? "\(term)/\(index) \"\(payload)\"" : "\(term)/\(index) conf \(ConfChange(decoding: data).map { "\($0)" } ?? "?")"
    }
}

/// Raft's persistent state besides the log. It must be durable before any message of
/// ``Ready/messagesAfterPersist`` leaves the node.
public struct HardState: Hashable, Sendable, CustomStringConvertible {
    public var term: Term
    /// Whom this node voted for in `term` (``NodeID/none``: nobody yet).
    public var vote: NodeID
    public var commit: LogIndex
    public init(term: Term = .zero, vote: NodeID = .none, commit: LogIndex = .zero) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
    public static let empty = HardState()
    public var description: String { "term=\(term) vote=\(vote) commit=\(commit)" }
}

/// A node's role in its term.
public enum StateRole: String, Hashable, Sendable {
    case follower = "Follower"
    case preCandidate = "PreCandidate"
    case candidate = "Candidate"
    case leader = "Leader"
}

/// Volatile state the application may want to watch (who leads, what this node is);
/// never persisted.
public struct SoftState: Hashable, Sendable, CustomStringConvertible {
    public var leader: NodeID
    public var role: StateRole
    public init(leader: NodeID, role: StateRole) {
        self.leader = leader
        self.role = role
    }
    public var description: String { "leader=\(leader) role=\(role.rawValue)" }
}

/// The membership raft works with: voters elect and commit; learners only receive the log.
/// Both lists are sorted and disjoint.
public struct ConfState: Hashable, Sendable, CustomStringConvertible {
    public var voters: [NodeID]
    public var learners: [NodeID]
    public init(voters: [NodeID] = [], learners: [NodeID] = []) {
        self.voters = voters.sorted()
        self.learners = learners.sorted()
        precondition(Set(self.voters).isDisjoint(with: self.learners), "a node is both voter and learner")
    }
    public var description: String {
        "voters=(\(voters.map(\.description).joined(separator: " "))) learners=(\(learners.map(\.description).joined(separator: " ")))"
    }
}

/// What a snapshot covers: the log up to `index` (whose entry had `term`), and the membership
/// in force at that point.
public struct SnapshotMetadata: Hashable, Sendable {
    public var index: LogIndex
    public var term: Term
    public var confState: ConfState
    public init(index: LogIndex = .zero, term: Term = .zero, confState: ConfState = ConfState()) {
        self.index = index
        self.term = term
        self.confState = confState
    }
}

/// A state-machine snapshot: application bytes plus what log prefix they replace.
public struct Snapshot: Hashable, Sendable {
    public var metadata: SnapshotMetadata
    public var data: [UInt8]
    public init(metadata: SnapshotMetadata = SnapshotMetadata(), data: [UInt8] = []) {
        self.metadata = metadata
        self.data = data
    }
    /// A snapshot at index 0 stands for "no snapshot".
    public var isEmpty: Bool { metadata.index == .zero }
}

/// The answer to a ``RawNode/readIndex(context:)``: once the application has applied
/// through `index`, a read issued before the request sees every write committed before it.
public struct ReadState: Hashable, Sendable {
    public var index: LogIndex
    /// The caller's context, returned unchanged so it can match the answer to its request.
    public var context: [UInt8]
    public init(index: LogIndex, context: [UInt8]) {
        self.index = index
        self.context = context
    }
}

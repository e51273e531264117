/// A raft term.
public struct Term: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// A position in the raft log; the first entry has index 1.
public struct LogIndex: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public static let zero = LogIndex(0)
    public var next: LogIndex { LogIndex(rawValue + 1) }
    public var description: String { String(rawValue) }
}

/// A cluster member's id; 0 means none (no vote cast).
public struct MemberID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public static let none = MemberID(0)
    public var description: String { String(rawValue, radix: 16) }
}

/// Raft's persistent state besides the log: it must be durable before a vote or an
/// acknowledgement leaves the node.
public struct HardState: Hashable, Sendable {
    public var term: Term
    public var vote: MemberID
    public var commit: LogIndex
    public init(term: Term, vote: MemberID, commit: LogIndex) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// What an entry carries, as raft sees it.
public enum EntryKind: UInt8, Sendable {
    case normal = 0
    case configurationChange = 1
}

/// One raft log entry as the WAL stores it.
public struct WALEntry: Hashable, Sendable {
    public var term: Term
    public var index: LogIndex
    public var kind: EntryKind
    public var data: [UInt8]
    public init(term: Term, index: LogIndex, kind: EntryKind = .normal, data: [UInt8]) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }
}

/// Marks that a state-machine snapshot covering the log up to `index` (at `term`) exists, so
/// replay may start after it.
public struct SnapshotMarker: Hashable, Sendable {
    public var index: LogIndex
    public var term: Term
    public init(index: LogIndex, term: Term) {
        self.index = index
        self.term = term
    }
}

/// A record raft asks the WAL to make durable.
public enum WALRecord: Hashable, Sendable {
    case entry(WALEntry)
    case hardState(HardState)
    case snapshot(SnapshotMarker)
}

/// Why the stable log could not answer.
public enum StorageRefusal: Error, Hashable, Sendable {
    /// The asked index is at or before the snapshot: those entries were compacted away.
    case compacted
    /// The asked index is after the last entry.
    case unavailable
    /// A snapshot is being made and will be ready later; raft retries on a later tick.
    case snapshotTemporarilyUnavailable
}

/// The read side of the stable log: entries already durable, the newest snapshot, and the
/// hard state written with them. Raft never writes through it: the application persists what
/// a ``Ready`` hands it (into a ``MemoryStorage``, or the WAL on a real node) and raft reads it
/// back here.
///
/// The log it describes is `[firstIndex, lastIndex]`, preceded by a snapshot (or the empty
/// start) at `firstIndex - 1` whose term `term(at:)` must still answer.
public protocol RaftStorage: AnyObject {
    /// The hard state and membership to start from.
    func initialState() -> (hardState: HardState, confState: ConfState)
    /// Entries in `[low, high)`, stopping early once their ``Entry/sizeBytes`` would pass
    /// `bytesMax`, but always at least one. Precondition: `low <= high <= lastIndex + 1`.
    func entries(from low: LogIndex, to high: LogIndex, bytesMax: UInt64) -> Result<[Entry], StorageRefusal>
    /// The term of the entry at `index`, for `index` in `[firstIndex - 1, lastIndex]`.
    func term(at index: LogIndex) -> Result<Term, StorageRefusal>
    /// The first index still held as an entry (the snapshot's index + 1).
    var firstIndex: LogIndex { get }
    /// The last index held; `firstIndex - 1` when no entry is held.
    var lastIndex: LogIndex { get }
    /// The newest snapshot. A leader sends it to members whose entries were compacted away,
    /// so it must name every current member: a member added after it ignores a snapshot that
    /// does not include it. Return a snapshot of the current applied state (or
    /// `snapshotTemporarilyUnavailable` while making one) when the stored one is older than
    /// the last applied conf change.
    func snapshot() -> Result<Snapshot, StorageRefusal>
}

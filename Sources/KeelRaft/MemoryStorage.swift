/// A ``RaftStorage`` held in memory, for tests, the simulator and benchmarks. The application
/// writes what each ``Ready`` hands it with ``apply(snapshot:)``, ``append(_:)`` and
/// ``setHardState(_:)``, and may ``compact(through:)`` once its state machine has applied.
///
/// `entries[0]` is a dummy standing for the snapshot (its index and term), so the term
/// before the first real entry is always known.
public final class MemoryStorage: RaftStorage {
    public private(set) var hardState: HardState
    public private(set) var currentSnapshot: Snapshot
    private var entries: [Entry]

    /// A log that starts empty with `confState` as membership (how a new cluster begins).
    public init(confState: ConfState = ConfState()) {
        hardState = .empty
        currentSnapshot = Snapshot(metadata: SnapshotMetadata(confState: confState))
        entries = [Entry(term: .zero, index: .zero)]
    }

    public func initialState() -> (hardState: HardState, confState: ConfState) {
        (hardState, currentSnapshot.metadata.confState)
    }

    public var firstIndex: LogIndex { entries[0].index.next }
    public var lastIndex: LogIndex { entries[0].index.advanced(by: Int64(entries.count - 1)) }

    public func term(at index: LogIndex) -> Result<Term, StorageRefusal> {
        let offset = entries[0].index
        if index < offset { return .failure(.compacted) }
        if index > lastIndex { return .failure(.unavailable) }
        return .success(entries[Int(index.rawValue - offset.rawValue)].term)
    }

    public func entries(from low: LogIndex, to high: LogIndex, bytesMax: UInt64) -> Result<[Entry], StorageRefusal> {
        precondition(low <= high && high <= lastIndex.next, "entries [\(low), \(high)) out of [.., \(lastIndex)]")
        let offset = entries[0].index
        if low <= offset { return .failure(.compacted) }
        let slice = entries[Int(low.rawValue - offset.rawValue)..<Int(high.rawValue - offset.rawValue)]
        return .success(Self.limit(slice, bytesMax: bytesMax))
    }

    public func snapshot() -> Result<Snapshot, StorageRefusal> { .success(currentSnapshot) }

    /// The longest prefix within `bytesMax`, but at least one entry.
    static func limit(_ slice: ArraySlice<Entry>, bytesMax: UInt64) -> [Entry] {
        var total: UInt64 = 0
        var end = slice.startIndex
        while end < slice.endIndex {
            total += slice[end].sizeBytes
            if total > bytesMax && end > slice.startIndex { break }
            end += 1
        }
        return Array(slice[slice.startIndex..<end])
    }

    public func setHardState(_ state: HardState) { hardState = state }

    /// Replaces the log with `snapshot` (what a follower does when it installs one); older
    /// snapshots are ignored and reported with `false`.
    @discardableResult
    public func apply(snapshot: Snapshot) -> Bool {
        guard snapshot.metadata.index > currentSnapshot.metadata.index else { return false }
        currentSnapshot = snapshot
        entries = [Entry(term: snapshot.metadata.term, index: snapshot.metadata.index)]
        return true
    }

    /// Records a snapshot of the state machine at `index` (which must be held) and drops the
    /// entries through it. Returns the snapshot.
    @discardableResult
    public func createSnapshot(at index: LogIndex, confState: ConfState, data: [UInt8]) -> Snapshot {
        precondition(index > currentSnapshot.metadata.index && index <= lastIndex, "snapshot index \(index) not held")
        let term = try! term(at: index).get()
        currentSnapshot = Snapshot(metadata: SnapshotMetadata(index: index, term: term, confState: confState), data: data)
        compact(through: index)
        return currentSnapshot
    }

    /// Records that the state machine holds everything through `index` (of `term`), so raft
    /// sends this snapshot to a follower whose next entry is compacted. Unlike
    /// ``createSnapshot(at:confState:data:)`` it drops no entry: the application compacts
    /// separately, keeping some entries before `index` for slow followers to catch up by
    /// append. An index at or below the current snapshot's changes nothing.
    /// Precondition: the log holds `index` (`index <= lastIndex`).
    public func setSnapshot(at index: LogIndex, term: Term, confState: ConfState) {
        guard index > currentSnapshot.metadata.index else { return }
        precondition(index <= lastIndex && index >= entries[0].index, "snapshot index \(index) not held")
        currentSnapshot = Snapshot(metadata: SnapshotMetadata(index: index, term: term, confState: confState))
    }

    /// Drops the entries through `index`, keeping its term as the new dummy. Compacting at or
    /// before the current start does nothing. Precondition: `index <= lastIndex`.
    public func compact(through index: LogIndex) {
        let offset = entries[0].index
        guard index > offset else { return }
        precondition(index <= lastIndex, "compact \(index) is past the last index \(lastIndex)")
        let cut = Int(index.rawValue - offset.rawValue)
        let dummy = Entry(term: entries[cut].term, index: index)
        entries = [dummy] + entries[(cut + 1)...]
    }

    /// Appends `newEntries`, which must be contiguous; entries from their first index on are
    /// replaced (a follower overwriting a conflicting suffix). Entries at or before the
    /// snapshot are skipped.
    public func append(_ newEntries: [Entry]) {
        guard var first = newEntries.first else { return }
        var newEntries = ArraySlice(newEntries)
        if first.index < firstIndex {
            newEntries = newEntries.drop { $0.index < firstIndex }
            guard let kept = newEntries.first else { return }
            first = kept
        }
        precondition(first.index <= lastIndex.next, "append at \(first.index) leaves a gap after \(lastIndex)")
        let keep = Int(first.index.rawValue - entries[0].index.rawValue)
        entries.removeSubrange(keep...)
        entries += newEntries
    }
}

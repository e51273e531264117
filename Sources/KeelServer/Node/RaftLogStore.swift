import KeelRaft
import KeelWAL

/// The member's raft log: entries and hard state made durable in the WAL, and held in a
/// `MemoryStorage` for raft to read back (the leader sends from it; a restart rebuilds it by
/// replaying the WAL).
///
/// Snapshots: the state machine's snapshot is the B+tree itself, which records the index of
/// the last entry it holds. Once the B+tree has committed through index `i`, a snapshot marker
/// for `i` goes into the WAL, the WAL segments wholly before `i` are deleted, and the entries
/// through `i` (minus a margin) leave memory. A restart starts the log at the newest marker.
///
/// Thread: the raft loop, except `wal` (appends wait on any thread).
final class RaftLogStore {
    let wal: WAL
    let memory: MemoryStorage
    /// The newest snapshot marker made durable (from replay, or `recordSnapshot`).
    private(set) var snapshotIndex: KeelRaft.LogIndex
    /// The membership in force from each index on, oldest first: the one raft started with,
    /// then one per conf change applied (`noteConfState`), so a snapshot at an index carries
    /// that index's membership (`confState(at:)`).
    private var confStates: [(index: KeelRaft.LogIndex, confState: ConfState)]

    /// Replays the WAL in `directory` (creating it for a new member) into memory, starting
    /// from its newest snapshot marker; `confState` is the membership to start raft with.
    init(directory: String, options: WALOptions, confState: ConfState) throws(WALError) {
        let (wal, replay) = try WAL.open(directory: directory, options: options)
        self.wal = wal
        memory = MemoryStorage(confState: confState)
        confStates = [(.zero, confState)]
        let marker = replay.snapshot.map { KeelRaft.LogIndex($0.index.rawValue) } ?? .zero
        snapshotIndex = marker
        if let snapshot = replay.snapshot, snapshot.index.rawValue > 0 {
            memory.apply(snapshot: Snapshot(metadata: SnapshotMetadata(
                index: marker, term: KeelRaft.Term(snapshot.term.rawValue), confState: confState)))
        }
        let entries = replay.entries.lazy.filter { $0.index.rawValue > marker.rawValue }.map(Self.raftEntry)
        memory.append(Array(entries))
        if let state = replay.hardState {
            memory.setHardState(HardState(term: KeelRaft.Term(state.term.rawValue), vote: NodeID(state.vote.rawValue),
                                          commit: KeelRaft.LogIndex(state.commit.rawValue)))
        }
    }

    /// Makes `ready`'s snapshot, entries and hard state part of the log: in memory now, durable
    /// when the returned ticket is (nil: nothing to write). The caller applies `ready`'s
    /// committed entries only once that ticket is durable.
    ///
    /// A snapshot (one a leader sent; its database is already durable in the snap directory,
    /// see ``SnapshotDatabaseFiles``) replaces the log in memory and goes into the WAL as a
    /// marker before the entries that follow it, so a restart begins the log there.
    func persist(_ ready: Ready) throws(WALError) -> WAL.Ticket? {
        guard ready.snapshot != nil || !ready.entries.isEmpty || ready.hardState != nil else { return nil }
        var records: [WALRecord] = []
        records.reserveCapacity(ready.entries.count + 2)
        if let snapshot = ready.snapshot {
            let metadata = snapshot.metadata
            precondition(metadata.index > snapshotIndex, "snapshot \(metadata.index) is not past the log's \(snapshotIndex)")
            // The database travels as a file, not in the raft log's memory.
            memory.apply(snapshot: Snapshot(metadata: metadata))
            records.append(.snapshot(SnapshotMarker(index: KeelWAL.LogIndex(metadata.index.rawValue), term: KeelWAL.Term(metadata.term.rawValue))))
            snapshotIndex = metadata.index
            noteConfState(metadata.confState, at: metadata.index)
        }
        memory.append(ready.entries)
        for entry in ready.entries { records.append(.entry(Self.walEntry(entry))) }
        if let state = ready.hardState {
            memory.setHardState(state)
            records.append(.hardState(KeelWAL.HardState(term: KeelWAL.Term(state.term.rawValue), vote: MemberID(state.vote.rawValue),
                                                        commit: KeelWAL.LogIndex(state.commit.rawValue))))
        }
        return try wal.append(records)
    }

    /// Records that the B+tree durably holds everything through `index` (of term `term`):
    /// writes the marker, deletes WAL segments before it, and drops the entries through
    /// `index - keepEntries` from memory. Returns the segment files deleted.
    func recordSnapshot(index: KeelRaft.LogIndex, term: KeelRaft.Term, keepEntries: UInt64) throws(WALError) -> [String] {
        guard index > snapshotIndex else { return [] }
        try wal.appendAndWait([.snapshot(SnapshotMarker(index: KeelWAL.LogIndex(index.rawValue), term: KeelWAL.Term(term.rawValue)))])
        snapshotIndex = index
        // Raft sends this snapshot (with a copy of the B+tree, which holds at least `index`) to a
        // follower that needs an entry compacted below.
        memory.setSnapshot(at: index, term: term, confState: confState(at: index))
        let released = try wal.release(before: KeelWAL.LogIndex(index.rawValue))
        if index.rawValue > keepEntries { memory.compact(through: KeelRaft.LogIndex(index.rawValue - keepEntries)) }
        return released
    }

    /// Records that `confState` is the membership from `index` on (a conf change applied).
    /// Records superseded before the newest snapshot marker are dropped.
    func noteConfState(_ confState: ConfState, at index: KeelRaft.LogIndex) {
        precondition(index >= confStates.last!.index, "conf change \(index) applied after \(confStates.last!.index)")
        confStates.append((index, confState))
        if let inForce = confStates.lastIndex(where: { $0.index <= snapshotIndex }), inForce > 0 {
            confStates.removeFirst(inForce)
        }
    }

    /// The membership in force at `index` (at or after the newest snapshot marker), for the
    /// snapshot taken there.
    func confState(at index: KeelRaft.LogIndex) -> ConfState {
        (confStates.last { $0.index <= index } ?? confStates[0]).confState
    }

    static func walEntry(_ entry: Entry) -> WALEntry {
        WALEntry(term: KeelWAL.Term(entry.term.rawValue), index: KeelWAL.LogIndex(entry.index.rawValue),
                 kind: entry.kind == .normal ? .normal : .configurationChange, data: entry.data)
    }

    static func raftEntry(_ entry: WALEntry) -> Entry {
        Entry(term: KeelRaft.Term(entry.term.rawValue), index: KeelRaft.LogIndex(entry.index.rawValue),
              kind: entry.kind == .normal ? .normal : .confChange, data: entry.data)
    }
}

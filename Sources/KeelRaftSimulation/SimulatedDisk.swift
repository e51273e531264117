import KeelRaft

/// One node's simulated disk: what survives a crash of that node.
///
/// Writes arrive in the order a node's `Ready`s hand them over, like records appended to a
/// WAL. A synced write is durable at once, together with every write before it. An unsynced
/// write (a `Ready` whose `mustSync` is false: only the commit index moved) sits in `pending`;
/// a crash keeps a prefix of `pending`, drawn from the seed, and loses the rest, as a WAL
/// whose tail was still in the page cache would.
///
/// Snapshots (installed from a leader, or made by compaction) are written with a sync of
/// everything before them, so a durable snapshot never stands beyond the durable hard
/// state's commit index.
public struct SimulatedDisk: Sendable {
    enum Write: Sendable {
        case entries([Entry])
        case hardState(HardState)
    }

    public private(set) var snapshot: Snapshot
    public private(set) var hardState = HardState.empty
    /// The durable entries after the snapshot, contiguous from `snapshot.metadata.index + 1`.
    public private(set) var entries: [Entry] = []
    private var pending: [Write] = []
    public private(set) var syncCount: UInt64 = 0

    /// A fresh disk of a node of a new cluster whose membership is `confState`.
    public init(confState: ConfState) {
        snapshot = Snapshot(metadata: SnapshotMetadata(confState: confState))
    }

    public var snapshotIndex: LogIndex { snapshot.metadata.index }
    public var lastIndex: LogIndex { snapshotIndex.advanced(by: Int64(entries.count)) }

    /// The term of the durable entry at `index`: the snapshot's term at its index, nil inside
    /// the snapshot or past the end.
    public func term(at index: LogIndex) -> Term? {
        if index == snapshotIndex { return snapshot.metadata.term }
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index.rawValue - snapshotIndex.rawValue - 1)].term
    }

    /// Writes what one `Ready` asked to persist; durable now when `sync`.
    public mutating func write(entries newEntries: [Entry], hardState newState: HardState?, sync: Bool) {
        if !newEntries.isEmpty { pending.append(.entries(newEntries)) }
        if let newState { pending.append(.hardState(newState)) }
        if sync { self.sync() }
    }

    /// Makes every pending write durable (fdatasync).
    public mutating func sync() {
        for write in pending { fold(write) }
        pending.removeAll()
        syncCount += 1
    }

    /// Installs a snapshot a leader sent: the log before it is gone. Synced.
    public mutating func install(_ newSnapshot: Snapshot) {
        sync()
        guard newSnapshot.metadata.index > snapshotIndex else { return }
        let index = newSnapshot.metadata.index
        if index <= lastIndex, term(at: index) == newSnapshot.metadata.term {
            entries.removeFirst(Int(index.rawValue - snapshotIndex.rawValue))
        } else {
            entries.removeAll()
        }
        snapshot = newSnapshot
    }

    /// Records a snapshot the node made of its own applied state and drops the entries through
    /// it. Synced; precondition: the snapshot's index is durable in the log.
    public mutating func compact(to newSnapshot: Snapshot) {
        sync()
        let index = newSnapshot.metadata.index
        precondition(index > snapshotIndex && index <= lastIndex, "compaction to \(index) outside the durable log")
        precondition(hardState.commit >= index, "compaction to \(index) beyond the durable commit \(hardState.commit)")
        entries.removeFirst(Int(index.rawValue - snapshotIndex.rawValue))
        snapshot = newSnapshot
    }

    /// The node crashed: a prefix of the unsynced writes (`keep` of them, clamped) reached
    /// the disk, the rest is lost.
    public mutating func crash(keepingPending keep: Int) {
        for write in pending.prefix(max(0, keep)) { fold(write) }
        pending.removeAll()
    }

    public var pendingCount: Int { pending.count }

    private mutating func fold(_ write: Write) {
        switch write {
        case .hardState(let state): hardState = state
        case .entries(let run):
            var run = ArraySlice(run)
            run = run.drop { $0.index <= snapshotIndex }
            guard let first = run.first else { return }
            precondition(first.index <= lastIndex.next, "a durable write at \(first.index) leaves a gap after \(lastIndex)")
            entries.removeSubrange(Int(first.index.rawValue - snapshotIndex.rawValue - 1)...)
            entries += run
        }
    }

    /// The storage a restarted node reads: exactly what is durable.
    public func makeStorage() -> MemoryStorage {
        let storage = MemoryStorage(confState: snapshot.metadata.confState)
        if !snapshot.isEmpty { storage.apply(snapshot: snapshot) }
        storage.append(entries)
        storage.setHardState(hardState)
        return storage
    }
}

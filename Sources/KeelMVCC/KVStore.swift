import KeelStorage

/// How a key space batches and paces its work.
public struct KVStoreOptions: Sendable {
    /// The B+tree is committed once this many rows (puts, tombstones, compaction deletes) are
    /// pending, or on `flush()`: each commit syncs twice, and the WAL already made the writes
    /// durable.
    public var commitRowsMax = 10_000
    /// ... or once the pending rows hold this many bytes: the overlay keeps them in memory
    /// until the commit, so large values must not wait for 10,000 rows.
    public var commitBytesMax = 32 << 20
    /// Keys one `compactStep()` visits in the index.
    public var compactionKeysPerStep = 1_000
    /// Rows one `compactStep()` visits in the B+tree.
    public var compactionRowsPerStep = 1_000
    /// A monotonic clock in nanoseconds and an observer told how long each B+tree commit took
    /// (etcd_disk_backend_commit_duration_seconds); the store reads no clock without them.
    public var clock: (@Sendable () -> UInt64)?
    public var commitObserver: (@Sendable (UInt64) -> Void)?
    /// With `clock` set: told, for each `range`, how long the revision index walk took (with
    /// taking the read view) and how long reading the rows it found took, in nanoseconds, on
    /// the reading thread; it must only record.
    public var rangeObserver: (@Sendable (_ indexNanoseconds: UInt64, _ readNanoseconds: UInt64) -> Void)?

    public init() {}
}

/// etcd's key space (its mvcc store) over a KeelStorage database: every change makes a new
/// revision; older revisions stay readable until compacted.
///
/// Threads: one writer (the apply loop) calls the write methods (`put`, `deleteRange`, `txn`,
/// `deleteKeys`, `compact`, `compactStep`, `recordApplied`, `flush`, `hash`, `close`); any
/// thread calls the read methods (`range`, `hashKV`, `events`, `previous`, `currentRevision`,
/// `compactRevision`) at any time, without a lock. Every write publishes a new read view before
/// it returns, so a read that starts afterwards sees it; no read ever sees part of a write.
///
/// Apply batches: between `beginBatch()` and `endBatch()` writes are not published one by one;
/// `endBatch()` publishes them all with one read view (one freeze of the index), and index
/// nodes copied during the batch are changed in place for the rest of it. Until then readers
/// (and the watch engine's history reads) see the state before the batch, so the apply loop
/// answers the batch's requests and notifies watchers of its revisions only after `endBatch()`.
/// A flush or compaction inside a batch publishes what the batch wrote so far.
///
/// Rows go into the `key` bucket keyed by `Revision.keyBytes(tombstone:)`, each a KeyValue in
/// protobuf encoding (`RowCodec`). The B+tree write transaction stays open across writes and is
/// committed every `commitRowsMax` rows or on `flush()`; until then the rows also live in the
/// published view's overlay, where readers find them.
public final class KVStore: @unchecked Sendable {
    // Sendable: readers touch only `database` and `published`; everything else belongs to the
    // one writer thread.
    public let database: Database
    let options: KVStoreOptions
    let published: Published<KVStoreReadView>

    // MARK: Writer state

    var builder: IndexBuilder
    /// The rows since the last B+tree commit, as the next view will carry them.
    var overlay = KVStoreOverlay()
    /// The open B+tree write transaction; nil between a commit and the next write.
    var transaction: WriteTransaction?
    /// Rows changed in `transaction` since it began.
    var pendingRows = 0
    /// Bytes of the rows written since the last commit (keys and values).
    public internal(set) var pendingBytes = 0
    /// Inside `beginBatch()` ... `endBatch()`.
    private(set) var inBatch = false
    /// A write of the open batch changed the key space and is not published yet.
    private var publishPending = false
    /// `consistentIndex` changed since the `meta` bucket was last given it (see `record`).
    private var consistentIndexUnwritten = false
    /// B+tree commits since the store opened (for benchmarks and metrics). Writer thread.
    public private(set) var storageCommits = 0
    var revision: Int64
    var compactedRevision: Int64
    /// The raft entry the latest write applied.
    public internal(set) var consistentIndex: ConsistentIndex
    /// A compaction whose index or rows are not all done yet.
    var compaction: KVStoreCompaction?
    /// Whether a lease exists (the lessor's answer); a put naming a lease it does not know is
    /// refused with `leaseNotFound`. Until set, every lease is unknown.
    public var leaseExists: (LeaseID) -> Bool = { _ in false }
    /// Every live key that carries a lease, as found by the last open, in key order: for the
    /// lessor to attach.
    public internal(set) var leasesAtOpen: [(key: [UInt8], lease: LeaseID)] = []

    /// Opens the key space in `database`: creates the buckets on first use, rebuilds the index
    /// from the `key` bucket, restores the revision, compact revision and consistent index, and
    /// resumes a compaction a crash interrupted (`compactStep()` finishes it).
    public init(database: Database, options: KVStoreOptions = KVStoreOptions()) throws(StorageError) {
        precondition(options.commitRowsMax > 0 && options.compactionKeysPerStep > 0 && options.compactionRowsPerStep > 0)
        self.database = database
        self.options = options
        let restored = try Self.restore(database)
        builder = restored.builder
        revision = restored.currentRevision
        compactedRevision = restored.compactRevision
        consistentIndex = restored.consistentIndex
        leasesAtOpen = restored.leases
        if let scheduled = restored.unfinishedCompaction {
            compaction = KVStoreCompaction(revision: scheduled)
        }
        published = Published(KVStoreReadView(index: builder.freeze(), overlay: KVStoreOverlay(), currentRevision: revision,
                                              compactRevision: compactedRevision, databaseReplacements: database.replacements))
    }

    // MARK: Reading the state (any thread)

    /// The revision of the last write that changed something; 1 for a key space never written
    /// (etcd's numbering: the first write makes revision 2).
    public var currentRevision: Int64 { published.load().currentRevision }

    /// The revision the history is compacted to: reads below it are refused.
    public var compactRevision: Int64 { published.load().compactRevision }

    /// True while a compaction has index entries or rows left to drop (see `compactStep()`).
    public var compactionPending: Bool { compaction != nil }

    // MARK: Committing (writer)

    /// Commits the B+tree now, with every row and the consistent index applied so far.
    public func flush() throws(StorageError) {
        try commit()
        publish()
    }

    /// Flushes and ends writing; the database stays open (its owner closes it). Readers must be
    /// done with the store.
    public func close() throws(StorageError) {
        try flush()
    }

    /// Drops the B+tree changes since the last commit, as a crash would (the tests' crash).
    /// The store must not be used afterwards: reopen it from the database.
    func discardUncommitted() {
        transaction?.rollback()
        transaction = nil
    }

    /// The open B+tree write transaction, begun if there is none. Other buckets (`lease`,
    /// `members`, `auth`, `alarm`) may be written through it: their changes commit with the key
    /// space's next commit, under the same consistent index.
    public func storageTransaction() throws(StorageError) -> WriteTransaction {
        if let transaction { return transaction }
        let begun = try database.beginWrite()
        transaction = begun
        return begun
    }

    /// Commits when enough rows are pending.
    func commitIfDue() throws(StorageError) {
        if pendingRows >= options.commitRowsMax || pendingBytes >= options.commitBytesMax { try commit() }
    }

    /// Commits the open write transaction and drops the overlay rows it made durable. The next
    /// `publish()` hands readers the smaller overlay; until then they hold the old one, whose
    /// rows the commit only duplicated.
    func commit() throws(StorageError) {
        if consistentIndexUnwritten {
            let transaction = try storageTransaction()
            try transaction.put(KVStoreSchema.metaBucket, KVStoreSchema.consistentIndexKey, KVStoreSchema.encode(consistentIndex.index))
            try transaction.put(KVStoreSchema.metaBucket, KVStoreSchema.termKey, KVStoreSchema.encode(consistentIndex.term))
            consistentIndexUnwritten = false
        }
        guard let transaction else { return }
        self.transaction = nil
        pendingRows = 0
        pendingBytes = 0
        let started = options.clock?() ?? 0
        try transaction.commit()
        if let clock = options.clock { options.commitObserver?(clock() - started) }
        storageCommits += 1
        overlay.removeAll()
    }

    /// Starts an apply batch: the writes until `endBatch()` are published together, by it.
    /// Writer thread; batches do not nest.
    public func beginBatch() {
        precondition(!inBatch, "apply batches do not nest")
        inBatch = true
    }

    /// Ends the apply batch: publishes every write it made, so reads starting afterwards see
    /// them. Only then may the apply loop answer its requests and notify watchers.
    public func endBatch() {
        precondition(inBatch, "endBatch without beginBatch")
        inBatch = false
        if publishPending { publish() }
    }

    /// After a write that changed something: publishes it now, or at the end of the batch.
    func publishWrite() {
        if inBatch {
            publishPending = true
        } else {
            publish()
        }
    }

    /// Publishes the writer's state as the new read view, now (inside a batch too).
    func publish() {
        publishPending = false
        published.publish(KVStoreReadView(index: builder.freeze(), overlay: overlay, currentRevision: revision,
                                          compactRevision: compactedRevision, databaseReplacements: database.replacements))
    }

    /// After `database.replace(withFileAt:)` gave the database other contents (a raft snapshot
    /// installed): drops everything the writer held about the old contents and rebuilds it
    /// from the new ones, as opening does — revision index, current and compact revisions,
    /// consistent index, the keys with leases (`leasesAtOpen`), an unfinished compaction — then
    /// publishes. Until that publish, readers that begin a read transaction on the new file
    /// while holding the old view retry (see `KVStoreReadView.databaseReplacements`).
    ///
    /// Writer thread, outside a batch, with nothing uncommitted (flush before the replace).
    public func reload() throws(StorageError) {
        precondition(!inBatch && transaction == nil, "reload with writes in flight")
        let restored = try Self.restore(database)
        builder = restored.builder
        revision = restored.currentRevision
        compactedRevision = restored.compactRevision
        consistentIndex = restored.consistentIndex
        leasesAtOpen = restored.leases
        compaction = restored.unfinishedCompaction.map { KVStoreCompaction(revision: $0) }
        overlay = KVStoreOverlay()
        pendingRows = 0
        pendingBytes = 0
        consistentIndexUnwritten = false
        publish()
    }

    /// Records that the raft entry `applied` was applied. The `meta` bucket gets it when the
    /// write transaction commits, in the same commit as the changes it covers: only the last
    /// entry before a commit matters, and writing two meta keys per entry cost a B+tree lookup
    /// each.
    func record(_ applied: ConsistentIndex) throws(StorageError) {
        consistentIndex = applied
        consistentIndexUnwritten = true
    }

    /// Records a raft entry that changes no key (a lease grant, a member change, a refused
    /// request), so that a restart does not apply it again.
    public func recordApplied(_ applied: ConsistentIndex) throws(StorageError) {
        try record(applied)
        try commitIfDue()
    }
}

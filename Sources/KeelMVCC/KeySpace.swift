import KeelStorage

/// How a key space and its engines are set up.
public struct KeySpaceOptions: Sendable {
    public var store = KVStoreOptions()
    public var lessor: LessorConfig
    public var watch = WatchLimits()

    public init(lessor: LessorConfig) {
        self.lessor = lessor
    }
}

/// The key space together with its lease and watch engines, as the apply loop drives them.
///
/// Each apply method is one raft entry: it changes the key space and the `lease` bucket in the
/// store's write transaction (recording `applying` as the consistent index with them), keeps
/// the lessor's key attachments in step with what the write did, and hands the write's events
/// to the watch engine, in revision order. Callers skip entries at or below
/// `store.consistentIndex` (they were applied before a restart).
///
/// Between `beginBatch()` and `endBatch()` the store publishes nothing and the watch engine is
/// told nothing: both happen at `endBatch()`, after which the apply loop answers the batch's
/// requests. (Watchers catching up read history only up to the published revision, so they
/// must not hear of a revision before it is published.)
///
/// Threads: the apply methods run on the one apply thread. Reads go to `store` (any thread,
/// lock-free), lease queries and keepalives to `lessor`, watch streams to `watches`.
public final class KeySpace: @unchecked Sendable {
    // Sendable: the three engines are; this type only routes apply calls, made on one thread.
    public let store: KVStore
    public let lessor: Lessor
    public let watches: WatchHub
    /// Keys that carried a lease the `lease` bucket did not hold when the key space was opened.
    /// etcd logs them and goes on; they keep their lease id but nothing will revoke them.
    public let keysWithUnknownLeaseAtOpen: [[UInt8]]
    /// Inside a batch: the events of each revision written, for `endBatch()` to hand on.
    private var heldEvents: [[Event]]?

    /// Opens the key space in `database`: the store rebuilds its index, the lessor restores
    /// the leases (as a follower: no countdowns until `lessor.promote`), and every live key
    /// that carries a lease is attached to it again.
    public init(database: Database, options: KeySpaceOptions) throws(StorageError) {
        store = try KVStore(database: database, options: options.store)
        lessor = Lessor(config: options.lessor)
        // The store's open committed the buckets it created, so this read sees the lease rows
        // of the same committed state the index was rebuilt from.
        let read = database.beginRead()
        lessor.restore(from: read)
        read.end()
        var unknown: [[UInt8]] = []
        for (key, lease) in store.leasesAtOpen where lessor.attach(lease, keys: [key]) != nil {
            unknown.append(key)
        }
        keysWithUnknownLeaseAtOpen = unknown
        store.leaseExists = { [lessor] id in lessor.contains(id) }
        watches = WatchHub(history: store, limits: options.watch)
    }

    /// After `store.database.replace(withFileAt:)` gave the database other contents (a raft
    /// snapshot from the leader): rebuilds the store's in-memory state, restores the leases
    /// from the new `lease` bucket (as a follower: no countdowns), attaches every live key
    /// with a lease again, and has every synced watcher catch up from the new history (those
    /// whose next revision is compacted away in it get a compacted response). Returns the keys
    /// whose lease the new contents do not hold (see `keysWithUnknownLeaseAtOpen`).
    ///
    /// Apply thread, outside a batch, after a flush. The new contents are at or past the old
    /// current revision (a snapshot carries everything this member applied, and more).
    public func databaseReplaced() throws(StorageError) -> [[UInt8]] {
        precondition(heldEvents == nil, "a database replaced inside an apply batch")
        try store.reload()
        let read = store.database.beginRead()
        lessor.restore(from: read)
        read.end()
        var unknown: [[UInt8]] = []
        for (key, lease) in store.leasesAtOpen where lessor.attach(lease, keys: [key]) != nil {
            unknown.append(key)
        }
        watches.historyReplaced()
        return unknown
    }

    // MARK: Batches

    /// Starts an apply batch (see the type's documentation). Batches do not nest.
    public func beginBatch() {
        precondition(heldEvents == nil, "apply batches do not nest")
        store.beginBatch()
        heldEvents = []
    }

    /// Publishes the batch's writes, then hands their events to the watch engine.
    public func endBatch() {
        guard let held = heldEvents else { preconditionFailure("endBatch() without beginBatch()") }
        heldEvents = nil
        store.endBatch()
        for events in held { watches.notify(revision: events[0].kv.modRevision, events: events) }
    }

    // MARK: Key writes

    public func put(_ request: PutRequest, applying applied: ConsistentIndex) throws(StorageError) -> Result<PutResponse, MVCCRefusal> {
        let result = try store.put(request, applying: applied)
        publishEvents(result.events)
        return result.response
    }

    public func deleteRange(_ request: DeleteRangeRequest, applying applied: ConsistentIndex) throws(StorageError) -> Result<DeleteRangeResponse, MVCCRefusal> {
        let result = try store.deleteRange(request, applying: applied)
        publishEvents(result.events)
        return result.response
    }

    public func txn(_ request: TxnRequest, applying applied: ConsistentIndex) throws(StorageError) -> Result<TxnResponse, MVCCRefusal> {
        let result = try store.txn(request, applying: applied)
        publishEvents(result.events)
        return result.response
    }

    /// Schedules a compaction; the apply loop then calls `store.compactStep()` between entries.
    public func compact(_ revision: Int64, applying applied: ConsistentIndex) throws(StorageError) -> Result<CompactResponse, MVCCRefusal> {
        try store.compact(revision, applying: applied)
    }

    // MARK: Lease writes

    /// LeaseGrant: returns the TTL granted (raised to the minimum). `id` is the proposer's
    /// choice, never 0.
    public func leaseGrant(_ id: LeaseID, ttlSeconds: Int64, nowNanoseconds now: Int64,
                           applying applied: ConsistentIndex) throws(StorageError) -> Result<Int64, MVCCRefusal> {
        let result = try lessor.grant(id, ttlSeconds: ttlSeconds, nowNanoseconds: now, in: store.storageTransaction())
        try store.recordApplied(applied)
        return result
    }

    /// LeaseRevoke (asked by a client, or proposed by the leader when the lease expired): the
    /// lease and every key attached to it go in one revision. Returns the revision after it.
    public func leaseRevoke(_ id: LeaseID, applying applied: ConsistentIndex) throws(StorageError) -> Result<Int64, MVCCRefusal> {
        switch try lessor.revoke(id, in: store.storageTransaction()) {
        case .failure(let refusal):
            try store.recordApplied(applied)
            return .failure(refusal)
        case .success(let keys):
            let result = try store.deleteKeys(keys, applying: applied)
            publishEvents(result.events)
            return .success(store.currentRevision)
        }
    }

    /// Remaining TTLs the leader checkpointed, applied on every member.
    public func leaseCheckpoint(_ checkpoints: [LeaseCheckpoint], nowNanoseconds now: Int64,
                                applying applied: ConsistentIndex) throws(StorageError) {
        try lessor.checkpoint(checkpoints, nowNanoseconds: now, in: store.storageTransaction())
        try store.recordApplied(applied)
    }

    // MARK: After every write

    /// Moves lease attachments to match what the write left (a put carries its lease or none;
    /// a deleted key carries nothing), then hands the events to the watch engine, or holds
    /// them for `endBatch()`.
    private func publishEvents(_ events: [Event]) {
        guard let revision = events.first?.kv.modRevision else { return }
        for event in events {
            precondition(event.kv.modRevision == revision, "one write's events span revisions")
            let attached = lessor.lease(ofKey: event.kv.key)
            let wanted = event.kind == .put ? event.kv.lease : .none
            guard attached != wanted else { continue }
            if attached != .none { _ = lessor.detach(attached, keys: [event.kv.key]) }
            if wanted != .none {
                // The store refused puts naming an unknown lease before writing anything.
                precondition(lessor.attach(wanted, keys: [event.kv.key]) == nil, "a put attached to lease \(wanted), which is gone")
            }
        }
        if heldEvents != nil {
            heldEvents!.append(events)
        } else {
            watches.notify(revision: revision, events: events)
        }
    }
}

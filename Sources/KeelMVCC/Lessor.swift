import KeelStorage
import Synchronization

/// etcd's lessor: the leases of one member, their attached keys, and (on the leader) their
/// countdowns.
///
/// Every member applies grant, revoke and checkpoint from the log, in log order, inside the
/// store's write transaction, so all members hold the same leases and the same `lease` bucket.
/// Only the leader ("primary") counts time: it renews leases on keepalives, finds expired ones
/// (`expiredLeases`) and proposes their revokes through the log, and proposes checkpoints of
/// remaining TTLs (`dueCheckpoints`). Followers hold every lease "forever" until `promote`.
///
/// The lessor does no I/O of its own and reads no clock: the caller passes the transaction and
/// the time (monotonic nanoseconds). It never deletes keys: `revoke` returns them and the store
/// deletes them in the same revision.
///
/// Thread-safety: all state sits behind one `Mutex`. The apply thread calls grant, revoke,
/// checkpoint, attach and detach; gRPC threads call renew, timeToLive and leases; the node loop
/// calls promote, demote, expiredLeases and dueCheckpoints. Every method is short and never
/// calls out while holding the lock (a storage put is the longest thing done under it).
public final class Lessor: Sendable {
    public let config: LessorConfig
    let state: Mutex<State>

    struct State {
        var leases: [LeaseID: LeaseRecord] = [:]
        /// key -> the lease it carries.
        var keyLeases: [[UInt8]: LeaseID] = [:]
        var primary = false
        /// Leader only: each lease at its expiry (or its retry time once handed out as expired).
        var expiries = LeaseHeap()
        /// Leader only: each lease whose remaining TTL is due for a checkpoint, at that time.
        var checkpoints = LeaseHeap()
    }

    /// An empty lessor (a follower). Fill it from storage with `restore(from:)`.
    public init(config: LessorConfig) {
        self.config = config
        state = Mutex(State())
    }

    public var isPrimary: Bool { state.withLock { $0.primary } }
    public var count: Int { state.withLock { $0.leases.count } }

    // MARK: Applied from the log on every member

    /// Grants lease `id` with `ttlSeconds` (raised to the minimum TTL) and writes it to the
    /// `lease` bucket in `txn`. Returns the TTL granted. On the leader its countdown starts at
    /// `now`. Refusals: `leaseNotFound` for id 0 (the proposer picks an id: `LeaseIDGenerator`),
    /// `leaseTTLTooLarge`, `leaseExists`. Throws only when the storage write fails, in which case
    /// the lessor is unchanged.
    public func grant(_ id: LeaseID, ttlSeconds: Int64, nowNanoseconds now: Int64,
                      in txn: WriteTransaction) throws(StorageError) -> Result<Int64, MVCCRefusal> {
        guard id != .none else { return .failure(.leaseNotFound(id)) }
        guard ttlSeconds <= LessorConfig.ttlSecondsMax else { return .failure(.leaseTTLTooLarge) }
        let config = config
        return try state.withLock { (state: inout State) throws(StorageError) -> Result<Int64, MVCCRefusal> in
            guard state.leases[id] == nil else { return .failure(.leaseExists(id)) }
            var lease = LeaseRecord(id: id, ttlSeconds: max(ttlSeconds, config.minTTLSeconds),
                                    remainingTTLSeconds: 0, expiryNanoseconds: LeaseRecord.forever)
            try txn.put(LeaseRecord.bucket, LeaseRecord.key(id), lease.value())
            if state.primary {
                lease.refresh(nowNanoseconds: now)
                state.expiries.set(id, time: lease.expiryNanoseconds)
                Self.scheduleCheckpoint(lease, &state, nowNanoseconds: now, config: config)
            }
            state.leases[id] = lease
            return .success(lease.ttlSeconds)
        }
    }

    /// Revokes lease `id`: removes it from the `lease` bucket in `txn` and forgets it and its
    /// attachments. Returns its keys in byte order; the store deletes them all in one revision
    /// (in the same transaction) without detaching them. Refusal: `leaseNotFound`.
    public func revoke(_ id: LeaseID, in txn: WriteTransaction) throws(StorageError) -> Result<[[UInt8]], MVCCRefusal> {
        try state.withLock { (state: inout State) throws(StorageError) -> Result<[[UInt8]], MVCCRefusal> in
            guard let lease = state.leases[id] else { return .failure(.leaseNotFound(id)) }
            try txn.delete(LeaseRecord.bucket, LeaseRecord.key(id))
            state.leases[id] = nil
            state.expiries.remove(id)
            state.checkpoints.remove(id)
            for key in lease.keys {
                precondition(state.keyLeases.removeValue(forKey: key) == id, "key attached to another lease")
            }
            return .success(lease.keys.sorted { $0.lexicographicallyPrecedes($1) })
        }
    }

    /// Applies checkpoints the leader proposed: each lease still present remembers its remaining
    /// TTL (written to `txn`), which `promote` restarts it from. Leases that are gone are skipped.
    /// The current leader's countdowns do not change; it schedules the next checkpoint.
    public func checkpoint(_ checkpoints: [LeaseCheckpoint], nowNanoseconds now: Int64,
                           in txn: WriteTransaction) throws(StorageError) {
        let config = config
        try state.withLock { (state: inout State) throws(StorageError) in
            for checkpoint in checkpoints {
                guard var lease = state.leases[checkpoint.id] else { continue }
                lease.remainingTTLSeconds = max(0, checkpoint.remainingTTLSeconds)
                try txn.put(LeaseRecord.bucket, LeaseRecord.key(lease.id), lease.value())
                state.leases[lease.id] = lease
                if state.primary { Self.scheduleCheckpoint(lease, &state, nowNanoseconds: now, config: config) }
            }
        }
    }

    // MARK: Keys

    /// Attaches keys to lease `id` (a put with a lease; on open, the store attaches every live
    /// key that carries one). A key attached to another lease moves. Refusal: `leaseNotFound`.
    public func attach(_ id: LeaseID, keys: [[UInt8]]) -> MVCCRefusal? {
        state.withLock { state in
            guard state.leases[id] != nil else { return .leaseNotFound(id) }
            for key in keys {
                if let old = state.keyLeases.updateValue(id, forKey: key), old != id {
                    state.leases[old]?.keys.remove(key)
                }
                state.leases[id]!.keys.insert(key)
            }
            return nil
        }
    }

    /// Detaches keys from lease `id` (the key was deleted or put without that lease). Keys not
    /// attached to it are skipped. Refusal: `leaseNotFound` (also after a revoke, which already
    /// detached its keys).
    public func detach(_ id: LeaseID, keys: [[UInt8]]) -> MVCCRefusal? {
        state.withLock { state in
            guard state.leases[id] != nil else { return .leaseNotFound(id) }
            for key in keys where state.keyLeases[key] == id {
                state.keyLeases[key] = nil
                state.leases[id]!.keys.remove(key)
            }
            return nil
        }
    }

    /// The lease `key` is attached to, `.none` when none.
    public func lease(ofKey key: [UInt8]) -> LeaseID {
        state.withLock { $0.keyLeases[key] ?? .none }
    }

    // MARK: Queries (any thread)

    /// LeaseTimeToLive. Refusal: `leaseNotFound`.
    public func timeToLive(_ id: LeaseID, nowNanoseconds now: Int64, withKeys: Bool) -> Result<LeaseStatus, MVCCRefusal> {
        state.withLock { state in
            guard let lease = state.leases[id] else { return .failure(.leaseNotFound(id)) }
            let keys = withKeys ? lease.keys.sorted { $0.lexicographicallyPrecedes($1) } : []
            return .success(LeaseStatus(id: id, grantedTTLSeconds: lease.ttlSeconds,
                                        remainingTTLSeconds: lease.remainingSeconds(nowNanoseconds: now), keys: keys))
        }
    }

    /// Whether lease `id` exists (a put naming it may attach to it).
    public func contains(_ id: LeaseID) -> Bool {
        state.withLock { $0.leases[id] != nil }
    }

    /// LeaseLeases: every lease id, ascending.
    public func leases() -> [LeaseID] {
        state.withLock { $0.leases.keys.sorted() }
    }

    static func scheduleCheckpoint(_ lease: LeaseRecord, _ state: inout State, nowNanoseconds now: Int64, config: LessorConfig) {
        // Only a lease that outlives one interval can be checkpointed before it expires.
        guard config.checkpointsEnabled,
              LeaseRecord.nanoseconds(seconds: lease.restartTTLSeconds) > config.checkpointIntervalNanoseconds else { return }
        state.checkpoints.set(lease.id, time: LeaseRecord.adding(now, config.checkpointIntervalNanoseconds))
    }
}

import KeelStorage

extension Lessor {
    /// Replaces every lease with those stored in the `lease` bucket of `txn` (on open, and after
    /// a raft snapshot replaced the database). Leases come back without keys (the store then
    /// attaches every live key that carries a lease) and without countdowns: as on a follower,
    /// until `promote`. A missing bucket means no leases.
    ///
    /// A row that is not a lease is a damaged database: precondition.
    public func restore(from txn: ReadTransaction) {
        var restored: [LeaseID: LeaseRecord] = [:]
        let minTTL = config.minTTLSeconds
        txn.scan(LeaseRecord.bucket) { key, value in
            guard let lease = LeaseRecord(value: value), Array(key) == LeaseRecord.key(lease.id) else {
                preconditionFailure("lease bucket: row \(Array(key)) is not a lease")
            }
            // etcd raises a stored TTL to the current minimum, which may have grown since.
            restored[lease.id] = LeaseRecord(id: lease.id, ttlSeconds: max(lease.ttlSeconds, minTTL),
                                             remainingTTLSeconds: lease.remainingTTLSeconds,
                                             expiryNanoseconds: LeaseRecord.forever)
            return true
        }
        state.withLock { state in
            state = State()
            state.leases = restored
        }
    }
}

/// The leader's side of the lessor: countdowns, keepalives, expiry and checkpoints.
extension Lessor {
    /// Makes this member the primary on becoming leader: every lease restarts its countdown at
    /// `now` from its checkpointed remainder (or its TTL), `extendNanoseconds` later (etcd passes
    /// the election timeout), so no lease expires early because the old leader's clock is gone.
    /// With many leases, expiries are then spread so that at most three quarters of
    /// `revokeRatePerSecond` fall in any one second.
    public func promote(nowNanoseconds now: Int64, extendNanoseconds extend: Int64) {
        let config = config
        state.withLock { state in
            state.primary = true
            state.expiries.removeAll()
            state.checkpoints.removeAll()
            for id in state.leases.keys.sorted() {
                state.leases[id]!.refresh(nowNanoseconds: now, extendNanoseconds: extend)
            }
            if state.leases.count >= config.revokeRatePerSecond {
                Self.spreadExpiries(&state, config: config)
            }
            for (id, lease) in state.leases {
                state.expiries.set(id, time: lease.expiryNanoseconds)
                Self.scheduleCheckpoint(lease, &state, nowNanoseconds: now, config: config)
            }
        }
    }

    /// Leader gone: every lease lives "forever" on this member until the next `promote`.
    public func demote() {
        state.withLock { state in
            state.primary = false
            for id in state.leases.keys { state.leases[id]!.expiryNanoseconds = LeaseRecord.forever }
            state.expiries.removeAll()
            state.checkpoints.removeAll()
        }
    }

    /// LeaseKeepAlive on the leader: restarts the countdown from the full TTL. See `LeaseRenewal`.
    public func renew(_ id: LeaseID, nowNanoseconds now: Int64) -> LeaseRenewal {
        let config = config
        return state.withLock { state in
            guard state.primary else { return .notPrimary }
            guard var lease = state.leases[id] else { return .refused(.leaseNotFound(id)) }
            guard lease.expiryNanoseconds > now else { return .expired }
            let clear = config.checkpointsEnabled && lease.remainingTTLSeconds > 0
                ? LeaseCheckpoint(id: id, remainingTTLSeconds: 0) : nil
            // The countdown restarts from the TTL now; the stored remainder is forgotten when
            // the clearing checkpoint comes back through the log.
            lease.expiryNanoseconds = LeaseRecord.adding(now, LeaseRecord.nanoseconds(seconds: lease.ttlSeconds))
            state.leases[id] = lease
            state.expiries.set(id, time: lease.expiryNanoseconds)
            return .renewed(ttlSeconds: lease.ttlSeconds, clear: clear)
        }
    }

    /// Leader only: up to `max` leases whose time is up at `now`, earliest first, for the
    /// caller to revoke through the log. A lease handed out is handed out again only after
    /// `expiredRetryNanoseconds` (in case that revoke got lost), unless renewed or revoked
    /// meanwhile. Empty on a follower.
    public func expiredLeases(nowNanoseconds now: Int64, max: Int) -> [LeaseID] {
        let retry = config.expiredRetryNanoseconds
        return state.withLock { state in
            guard state.primary else { return [] }
            var expired: [LeaseID] = []
            while expired.count < max, let (time, id) = state.expiries.first, time <= now {
                precondition(state.leases[id] != nil, "the expiry heap holds a revoked lease")
                expired.append(id)
                state.expiries.set(id, time: LeaseRecord.adding(now, retry))
            }
            return expired
        }
    }

    /// Leader only: up to `max` checkpoints due at `now`, for the caller to propose through the
    /// log (etcd batches up to 1000 per entry). A lease whose remaining TTL is still its full TTL
    /// or that has expired needs none.
    public func dueCheckpoints(nowNanoseconds now: Int64, max: Int) -> [LeaseCheckpoint] {
        state.withLock { state in
            guard state.primary else { return [] }
            var due: [LeaseCheckpoint] = []
            while due.count < max, let (time, id) = state.checkpoints.first, time <= now {
                state.checkpoints.remove(id)
                guard let lease = state.leases[id], lease.expiryNanoseconds > now else { continue }
                // Rounded up: a checkpoint must never shorten the lease.
                let left = lease.expiryNanoseconds - now
                let remaining = (left + LeaseRecord.nanosecondsPerSecond - 1) / LeaseRecord.nanosecondsPerSecond
                if remaining >= lease.ttlSeconds { continue }
                due.append(LeaseCheckpoint(id: id, remainingTTLSeconds: remaining))
            }
            return due
        }
    }

    /// After a leader change with many leases, pushes back expiries that pile up: walking the
    /// leases in expiry order, each may expire no sooner than 1 / (3/4 rate) seconds after the
    /// previous one once a second's budget is used up. Only ever later, never earlier.
    static func spreadExpiries(_ state: inout State, config: LessorConfig) {
        let perSecond = Swift.max(1, config.revokeRatePerSecond * 3 / 4)
        let ordered = state.leases.values.sorted {
            $0.expiryNanoseconds != $1.expiryNanoseconds ? $0.expiryNanoseconds < $1.expiryNanoseconds : $0.id < $1.id
        }
        // A sliding window of the last `perSecond` expiries: the next one must fall at least
        // one second after the oldest of them.
        var window: [Int64] = []
        var oldest = 0
        for lease in ordered {
            var expiry = lease.expiryNanoseconds
            if window.count == perSecond {
                expiry = Swift.max(expiry, LeaseRecord.adding(window[oldest], LeaseRecord.nanosecondsPerSecond))
                window[oldest] = expiry
                oldest = (oldest + 1) % perSecond
            } else {
                window.append(expiry)
            }
            state.leases[lease.id]!.expiryNanoseconds = expiry
        }
    }
}

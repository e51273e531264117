/// The lessor's settings. Times are nanoseconds of the caller's monotonic clock.
public struct LessorConfig: Sendable, Hashable {
    /// Every lease lives at least this long: a smaller requested TTL is raised to it, since a
    /// lease shorter than a leader election could expire before a new leader can renew it.
    /// etcd derives it from the election timeout; see `minTTLSeconds(electionTimeoutNanoseconds:)`.
    public var minTTLSeconds: Int64
    /// How often the leader checkpoints a lease's remaining TTL through the log (etcd: 5 min).
    public var checkpointIntervalNanoseconds: Int64 = 300 * 1_000_000_000
    /// Whether remaining TTLs are checkpointed at all (etcd's --experimental-enable-lease-checkpoint;
    /// on by default here: without it a leader change restarts every lease at its full TTL).
    public var checkpointsEnabled = true
    /// An expired lease handed out by `expiredLeases` is handed out again only after this long,
    /// in case its revoke got lost (etcd: 3 s).
    public var expiredRetryNanoseconds: Int64 = 3 * 1_000_000_000
    /// How many leases the leader revokes per second at most (etcd: 1000). `promote` spreads
    /// expiries so that no more than three quarters of this expire in any one second.
    public var revokeRatePerSecond = 1000

    public init(minTTLSeconds: Int64) {
        precondition(minTTLSeconds >= 1, "a lease needs a positive minimum TTL")
        self.minTTLSeconds = minTTLSeconds
    }

    /// etcd's rule: one and a half election timeouts, rounded up to whole seconds (2 s for the
    /// default 1 s election timeout).
    public static func minTTLSeconds(electionTimeoutNanoseconds: Int64) -> Int64 {
        let nanoseconds = electionTimeoutNanoseconds * 3 / 2
        return max(1, (nanoseconds + LeaseRecord.nanosecondsPerSecond - 1) / LeaseRecord.nanosecondsPerSecond)
    }

    /// etcd refuses a TTL above this (about 285 years).
    public static let ttlSecondsMax: Int64 = 9_000_000_000
}

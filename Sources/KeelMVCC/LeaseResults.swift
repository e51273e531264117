/// A lease's remaining TTL as the leader saw it, applied on every member through the log so
/// that a new leader restarts the lease from it rather than from the full TTL. A remaining TTL
/// of 0 clears an earlier checkpoint (a renewed lease starts from its full TTL again).
public struct LeaseCheckpoint: Hashable, Sendable {
    public var id: LeaseID
    public var remainingTTLSeconds: Int64

    public init(id: LeaseID, remainingTTLSeconds: Int64) {
        self.id = id
        self.remainingTTLSeconds = remainingTTLSeconds
    }
}

/// LeaseTimeToLive's answer.
public struct LeaseStatus: Hashable, Sendable {
    public var id: LeaseID
    /// The TTL granted (after the minimum TTL rule).
    public var grantedTTLSeconds: Int64
    /// Seconds until expiry on the leader. A member that is not the leader has no countdown
    /// and reports the TTL it would restart from (the checkpointed remainder, or the TTL).
    public var remainingTTLSeconds: Int64
    /// The attached keys in byte order; empty unless asked for.
    public var keys: [[UInt8]]
}

/// What a keepalive got.
public enum LeaseRenewal: Hashable, Sendable {
    /// The countdown restarted from the full TTL. When `clear` is not nil, the caller proposes it
    /// through the log: the lease carried a checkpointed remainder that every member must forget,
    /// or a later leader would restart the lease from that older, shorter remainder.
    case renewed(ttlSeconds: Int64, clear: LeaseCheckpoint?)
    /// This member is not the leader: forward the keepalive to the leader.
    case notPrimary
    /// The lease has expired and its revoke is on its way through the log; etcd makes the
    /// keepalive wait for that revoke and then answers "lease not found".
    case expired
    case refused(MVCCRefusal)
}

import Synchronization

/// What the transport did since it started, for metrics (etcd's `etcd_network_peer_*`
/// families count the same things per peer; these are totals). Relaxed atomics: each value is
/// exact, but two values read one after the other need not be from the same instant.
public final class PeerTransportCounters: Sendable {
    /// Raft messages written to a connection (snapshots included, counted when acknowledged).
    public let messagesSent = Atomic<UInt64>(0)
    /// Raft messages received and handed to `deliver`.
    public let messagesReceived = Atomic<UInt64>(0)
    /// Outgoing messages dropped: queue full, peer unknown or unreachable, a snapshot already
    /// in flight, frame too large, or a partition.
    public let messagesDropped = Atomic<UInt64>(0)
    /// Incoming messages dropped by a partition.
    public let messagesDroppedInbound = Atomic<UInt64>(0)
    /// Buffers of raft messages written and flushed on messages connections: messagesSent
    /// over writes is how many messages one write coalesced, on average.
    public let writes = Atomic<UInt64>(0)
    public let bytesSent = Atomic<UInt64>(0)
    public let bytesReceived = Atomic<UInt64>(0)
    /// Outbound connections established after the first one to the same peer.
    public let reconnects = Atomic<UInt64>(0)
    /// Connections refused in the handshake, by either side.
    public let handshakesRefused = Atomic<UInt64>(0)
    public let snapshotsSent = Atomic<UInt64>(0)
    public let snapshotsReceived = Atomic<UInt64>(0)
    public let snapshotsFailed = Atomic<UInt64>(0)

    init() {}
}

extension Atomic where Value == UInt64 {
    /// Adds `amount` to a counter (relaxed: counters order nothing).
    func bump(_ amount: Int) {
        precondition(amount >= 0, "counters only grow")
        if amount > 0 { add(UInt64(amount), ordering: .relaxed) }
    }
}

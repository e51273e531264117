import KeelRaft

/// Where the transport's log lines go: level, message, fields (the server routes them to
/// its ServerLogger). Called from event-loop threads and from `send`'s caller.
public typealias PeerTransportLog = @Sendable (_ level: LogLevel, _ message: String, _ fields: [LogField]) -> Void

/// What the transport tells the raft loop about peers, so raft can adapt
/// (`RawNode.reportUnreachable`, `RawNode.reportSnapshot`).
public enum PeerReport: Hashable, Sendable {
    /// Messages to the member were dropped or its connection was lost.
    case unreachable(NodeID)
    /// A snapshot message to the member arrived (`finished`) or did not (`failed`). Sent
    /// exactly once for every snapshot message passed to `send`.
    case snapshot(NodeID, RawNode.SnapshotStatus)
    /// A peer refused this member as removed from the cluster.
    case removed
}

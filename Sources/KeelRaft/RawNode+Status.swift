/// A read-only picture of a node, for tests, the simulator and metrics.
public struct Status: Sendable {
    public var id: NodeID
    public var hardState: HardState
    public var softState: SoftState
    public var applied: LogIndex
    public var lastIndex: LogIndex
    public var firstIndex: LogIndex
    public var confState: ConfState
    public var leadTransferee: NodeID
    /// Each member's progress; filled on the leader only.
    public var progress: [NodeID: Progress]
}

extension RawNode {
    public var status: Status {
        let r = raft
        var progress: [NodeID: Progress] = [:]
        if r.role == .leader {
            for member in r.tracker.ids { progress[member] = r.tracker[member] }
        }
        return Status(
            id: r.id, hardState: r.hardState, softState: r.softState, applied: r.raftLog.applied,
            lastIndex: r.raftLog.lastIndex, firstIndex: r.raftLog.firstIndex, confState: r.tracker.confState,
            leadTransferee: r.leadTransferee, progress: progress)
    }

    public var isLeader: Bool { raft.role == .leader }
    public var leader: NodeID { raft.lead }
    public var term: Term { raft.term }
}

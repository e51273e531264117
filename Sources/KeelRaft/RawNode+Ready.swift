extension RawNode {
    /// Whether ``ready()`` has anything to hand out.
    public var hasReady: Bool {
        let r = raft
        if (r.broadcastPending || r.readRoundContext != nil) && r.role == .leader { return true }
        if r.softState != previousSoftState { return true }
        if r.hardState != previousHardState { return true }
        if r.raftLog.unstable.snapshot != nil || !r.raftLog.unstable.entries.isEmpty { return true }
        if !r.messages.isEmpty || !r.messagesAfterPersist.isEmpty || !r.readStates.isEmpty { return true }
        return r.raftLog.hasNextCommittedEntries
    }

    /// Collects what the application must do now. Precondition: the previous Ready was
    /// advanced.
    public func ready() -> Ready {
        precondition(!readyOutstanding, "ready() called before advance() of the previous Ready")
        raft.flushBroadcast()
        let r = raft
        let soft = r.softState
        let hard = r.hardState
        let entries = r.raftLog.unstable.entries
        let ready = Ready(
            softState: soft != previousSoftState ? soft : nil,
            hardState: hard != previousHardState ? hard : nil,
            entries: entries,
            snapshot: r.raftLog.unstable.snapshot,
            committedEntries: r.raftLog.nextCommittedEntries(bytesMax: r.config.committedEntriesBytesMax),
            messages: r.messages,
            messagesAfterPersist: r.messagesAfterPersist,
            readStates: r.readStates,
            // A snapshot moves the log start past the stored commit index: the two must be
            // durable together or a restart finds a commit index before its log.
            mustSync: !entries.isEmpty || r.raftLog.unstable.snapshot != nil || hard.term != previousHardState.term
                || hard.vote != previousHardState.vote)
        r.messages = []
        r.messagesAfterPersist = []
        r.readStates = []
        r.proposalsSinceReady = 0
        previousSoftState = soft
        previousHardState = hard
        readyOutstanding = true
        return ready
    }

    /// Records that the application persisted, sent and applied what `ready` asked.
    public func advance(_ ready: Ready) {
        precondition(readyOutstanding, "advance() without an outstanding Ready")
        readyOutstanding = false
        let r = raft
        if let last = ready.entries.last { r.raftLog.unstable.stable(through: last.index, term: last.term) }
        if let snapshot = ready.snapshot {
            r.raftLog.unstable.stableSnapshot(at: snapshot.metadata.index)
            r.raftLog.applied(through: snapshot.metadata.index)
        }
        if let last = ready.committedEntries.last {
            r.raftLog.applied(through: last.index)
            if r.role == .leader { r.reduceUncommittedBytes(ready.committedEntries) }
        }
    }
}

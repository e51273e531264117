extension Raft {
    func handleAppend(_ m: Message) {
        if m.index < raftLog.committed {
            // Everything through our commit index already matches the leader's log.
            send(Message(type: .appendResponse, to: m.from, index: raftLog.committed))
            return
        }
        if let lastNew = raftLog.maybeAppend(index: m.index, logTerm: m.logTerm, commit: m.commit, entries: m.entries) {
            send(Message(type: .appendResponse, to: m.from, index: lastNew))
            return
        }
        // Our log does not have the leader's entry at m.index. Hint the last index where the
        // logs may still agree: at most our last index, and not past any entry whose term is
        // above the leader's term there (those entries cannot match either).
        let start = min(m.index, raftLog.lastIndex)
        let hint = raftLog.lastIndexWithTerm(atMost: m.logTerm, before: start)
        log("[logterm: \(raftLog.term(at: m.index).map(\.description) ?? "0"), index: \(m.index)] rejected App [logterm: \(m.logTerm), index: \(m.index)] from \(m.from)")
        send(Message(
            type: .appendResponse, to: m.from, index: m.index, reject: true,
            rejectHintIndex: hint.index, rejectHintTerm: hint.term))
    }

    func handleHeartbeat(_ m: Message) {
        raftLog.advanceCommit(to: m.commit)
        send(Message(type: .heartbeatResponse, to: m.from, context: m.context))
    }

    func handleSnapshot(_ m: Message) {
        guard let snapshot = m.snapshot else { preconditionFailure("a snapshot message without a snapshot") }
        if restore(snapshot) {
            log("[commit: \(raftLog.committed)] restored snapshot [index: \(snapshot.metadata.index), term: \(snapshot.metadata.term)]")
            send(Message(type: .appendResponse, to: m.from, index: raftLog.lastIndex))
        } else {
            log("[commit: \(raftLog.committed)] ignored snapshot [index: \(snapshot.metadata.index), term: \(snapshot.metadata.term)]")
            send(Message(type: .appendResponse, to: m.from, index: raftLog.committed))
        }
    }

    /// Replaces the log and membership with `snapshot`'s; returns false when it brings
    /// nothing new (the log already has it, or it is older than the commit index).
    func restore(_ snapshot: Snapshot) -> Bool {
        let meta = snapshot.metadata
        guard meta.index > raftLog.committed else { return false }
        precondition(role == .follower, "only a follower installs a snapshot")
        let members = meta.confState.voters + meta.confState.learners
        guard members.contains(id) else {
            // Not a member at that point: installing would leave this node in a config
            // without itself. Wait for a snapshot that includes it.
            log("attempted to restore snapshot but it is not in the ConfState \(meta.confState); should never happen")
            return false
        }
        if raftLog.matchTerm(meta.index, meta.term) {
            // The log already holds the snapshot's last entry: just commit through it.
            log("[commit: \(raftLog.committed), lastindex: \(raftLog.lastIndex), lastterm: \(raftLog.lastTerm)] fast-forwarded commit to snapshot [index: \(meta.index), term: \(meta.term)]")
            raftLog.advanceCommit(to: meta.index)
            return false
        }
        raftLog.restore(snapshot)
        tracker = ProgressTracker(inflightMessagesMax: config.inflightMessagesMax, inflightBytesMax: config.inflightBytesMax)
        for voter in meta.confState.voters { tracker.addVoter(voter, next: raftLog.lastIndex.next) }
        for learner in meta.confState.learners { tracker.addLearner(learner, next: raftLog.lastIndex.next) }
        tracker.resetAll(next: raftLog.lastIndex.next, selfID: id, selfMatch: raftLog.lastIndex)
        isLearner = meta.confState.learners.contains(id)
        return true
    }
}

extension Raft {
    /// Why the leader refuses to propose `change` to the current membership, if it does.
    /// Only one change is pending at a time, so the membership it is checked against is the
    /// one it will be applied to.
    func refuseConfChange(_ change: ConfChange) -> RaftRefusal? {
        let target = change.nodeID
        switch change.kind {
        case .addNode:
            if tracker.isVoter(target) { return .proposalDropped(reason: "\(target) is already a voter") }
        case .addLearnerNode:
            if tracker.learners.contains(target) { return .proposalDropped(reason: "\(target) is already a learner") }
            if tracker.isVoter(target) && tracker.voters.count == 1 {
                return .proposalDropped(reason: "demoting \(target) would leave no voter")
            }
        case .updateNode:
            if tracker[target] == nil { return .proposalDropped(reason: "\(target) is not a member") }
        case .removeNode:
            if tracker[target] == nil { return .proposalDropped(reason: "\(target) is not a member") }
            if tracker.isVoter(target) && tracker.voters.count == 1 {
                return .proposalDropped(reason: "removing \(target) would leave no voter")
            }
        }
        return nil
    }

    /// Makes `change` the membership in force (called when its entry is applied) and returns
    /// the new membership. A leader that removed or demoted itself hands leadership to its
    /// most up-to-date voter and steps down.
    func applyConfChange(_ change: ConfChange) -> ConfState {
        let next = raftLog.lastIndex.next
        switch change.kind {
        case .addNode: tracker.addVoter(change.nodeID, next: next)
        case .addLearnerNode: tracker.addLearner(change.nodeID, next: next)
        case .removeNode: tracker.remove(change.nodeID)
        case .updateNode: return tracker.confState
        }
        isLearner = tracker.learners.contains(id)
        log("switched to configuration \(tracker.confState)")
        guard role == .leader else { return tracker.confState }
        if tracker[id] == nil || isLearner {
            handOffLeadership()
            becomeFollower(term: term, leader: .none)
            return tracker.confState
        }
        if leadTransferee != .none && !tracker.isVoter(leadTransferee) { abortLeaderTransfer() }
        // A smaller quorum may commit more at once; new members need their first probe.
        if maybeCommit() { releasePendingReadIndexMessages() }
        broadcastPending = true
        return tracker.confState
    }

    /// Asks the voter with the longest log to campaign at once if it has every entry, so the
    /// cluster need not wait an election timeout for a new leader.
    private func handOffLeadership() {
        let candidates = tracker.voters.voters.filter { $0 != id }
        guard let best = candidates.max(by: { tracker[$0]!.match < tracker[$1]!.match }),
            tracker[best]!.match == raftLog.lastIndex
        else { return }
        log("removed from the configuration; sent TimeoutNow to \(best)")
        sendTimeoutNow(to: best)
    }
}

extension Raft {
    func stepLeader(_ m: Message) -> StepResult {
        switch m.type {
        case .beat:
            broadcastHeartbeat()
            return .success(())
        case .checkQuorum:
            if !tracker.quorumActive(selfID: id) {
                log("stepped down to follower since quorum is not active")
                becomeFollower(term: term, leader: .none)
            }
            // Each round starts from scratch: members must be heard from again.
            for member in tracker.ids where member != id { tracker[member]!.recentActive = false }
            return .success(())
        case .propose:
            return handlePropose(m)
        case .readIndex:
            return handleReadIndex(m)
        default:
            break
        }
        guard tracker[m.from] != nil else {
            log("no progress available for \(m.from)")
            return .success(())
        }
        switch m.type {
        case .appendResponse: handleAppendResponse(m)
        case .heartbeatResponse: handleHeartbeatResponse(m)
        case .snapshotStatus: handleSnapshotStatus(m)
        case .unreachable:
            // The append may be lost: stop streaming and probe again.
            if tracker[m.from]!.state == .replicate { tracker[m.from]!.becomeProbe() }
        case .transferLeader: handleTransferLeader(m)
        default: break
        }
        return .success(())
    }

    private func handlePropose(_ m: Message) -> StepResult {
        precondition(!m.entries.isEmpty, "a proposal without entries")
        guard tracker[id] != nil else { return .failure(.proposalDropped(reason: "this node was removed")) }
        guard leadTransferee == .none else {
            log("[term \(term)] transfer leadership to \(leadTransferee) is in progress; dropping proposal")
            return .failure(.proposalDropped(reason: "leadership transfer in progress"))
        }
        guard proposalsSinceReady < config.proposalsPerReadyMax else {
            return .failure(.proposalDropped(reason: "proposalsPerReadyMax reached"))
        }
        if let confIndex = m.entries.firstIndex(where: { $0.kind == .confChange }) {
            guard m.entries.filter({ $0.kind == .confChange }).count == 1 else {
                return .failure(.proposalDropped(reason: "more than one conf change in a proposal"))
            }
            if pendingConfIndex > raftLog.applied {
                log("propose conf change ignored since pending unapplied configuration [index \(pendingConfIndex), applied \(raftLog.applied)]")
                return .failure(.confChangePending)
            }
            guard let change = ConfChange(decoding: m.entries[confIndex].data) else {
                return .failure(.proposalDropped(reason: "malformed conf change"))
            }
            if let refusal = refuseConfChange(change) { return .failure(refusal) }
        }
        guard appendEntries(m.entries) else {
            log("appending new entries to log would exceed uncommitted entry size limit; dropping proposal")
            return .failure(.proposalDropped(reason: "uncommittedEntriesBytesMax reached"))
        }
        proposalsSinceReady += 1
        if let confIndex = m.entries.firstIndex(where: { $0.kind == .confChange }) {
            pendingConfIndex = raftLog.lastIndex.advanced(by: Int64(confIndex + 1 - m.entries.count))
        }
        return .success(())
    }

    private func handleAppendResponse(_ m: Message) {
        tracker[m.from]!.recentActive = true
        if m.reject {
            log("received AppResp(rejected, hint: (index \(m.rejectHintIndex), term \(m.rejectHintTerm))) from \(m.from) for index \(m.index)")
            var probe = m.rejectHintIndex
            if m.rejectHintTerm > .zero {
                // Skip every entry of ours whose term exceeds the follower's term at the hint:
                // none of them can match.
                probe = raftLog.lastIndexWithTerm(atMost: m.rejectHintTerm, before: m.rejectHintIndex).index
            }
            if tracker[m.from]!.maybeDecrease(rejected: m.index, hint: probe) {
                log("decreased progress of \(m.from) to [next \(tracker[m.from]!.next)]")
                if tracker[m.from]!.state == .replicate { tracker[m.from]!.becomeProbe() }
                sendAppend(to: m.from)
            }
            return
        }
        let wasPaused = tracker[m.from]!.isPaused
        guard tracker[m.from]!.maybeUpdate(m.index) else { return }
        switch tracker[m.from]!.state {
        case .probe:
            tracker[m.from]!.becomeReplicate()
        case .snapshot where tracker[m.from]!.match.next >= raftLog.firstIndex:
            // The follower caught up (through the snapshot or otherwise): the log serves it now.
            log("recovered from needing snapshot, resumed sending replication messages to \(m.from)")
            tracker[m.from]!.becomeProbe()
            tracker[m.from]!.becomeReplicate()
        case .replicate:
            tracker[m.from]!.inflights.free(through: m.index)
        case .snapshot:
            break
        }
        if maybeCommit() {
            // Every follower learns the new commit index from the broadcast at the next Ready.
            releasePendingReadIndexMessages()
        } else if wasPaused {
            sendAppend(to: m.from)
        }
        // Pipelining: stream whatever else the follower lacks, within its window.
        while maybeSendAppend(to: m.from, sendIfEmpty: false) {}
        if m.from == leadTransferee && tracker[m.from]!.match == raftLog.lastIndex {
            log("sent TimeoutNow to \(m.from) after received AppResp")
            sendTimeoutNow(to: m.from)
        }
    }

    private func handleHeartbeatResponse(_ m: Message) {
        tracker[m.from]!.recentActive = true
        tracker[m.from]!.probeSent = false
        // A lost append must not keep a full window stuck forever.
        if tracker[m.from]!.state == .replicate && tracker[m.from]!.inflights.isFull {
            tracker[m.from]!.inflights.freeFirst()
        }
        if tracker[m.from]!.match < raftLog.lastIndex {
            sendAppend(to: m.from)
        }
        guard !m.context.isEmpty else { return }
        confirmReadIndex(ack: m.from, context: m.context)
    }

    private func handleSnapshotStatus(_ m: Message) {
        guard tracker[m.from]!.state == .snapshot else { return }
        if m.reject {
            // The snapshot did not arrive: forget it so the next probe may pick a newer one.
            tracker[m.from]!.pendingSnapshot = .zero
            tracker[m.from]!.becomeProbe()
            log("snapshot failed, resumed sending replication messages to \(m.from)")
        } else {
            tracker[m.from]!.becomeProbe()
            log("snapshot succeeded, resumed sending replication messages to \(m.from)")
        }
        // Wait for the follower's answer (or a heartbeat answer) before the next probe.
        tracker[m.from]!.probeSent = true
    }

    private func handleTransferLeader(_ m: Message) {
        let transferee = m.from
        guard !tracker[transferee]!.isLearner else {
            log("ignored transferring leadership to learner \(transferee)")
            return
        }
        if leadTransferee != .none {
            if leadTransferee == transferee {
                log("[term \(term)] transfer leadership to \(transferee) is in progress, ignores request to same node")
                return
            }
            abortLeaderTransfer()
        }
        guard transferee != id else {
            log("is already leader. Ignored transferring leadership to itself")
            return
        }
        log("[term \(term)] starts to transfer leadership to \(transferee)")
        // The transfer must finish within an election timeout or it is abandoned.
        electionElapsed = 0
        leadTransferee = transferee
        if tracker[transferee]!.match == raftLog.lastIndex {
            sendTimeoutNow(to: transferee)
            log("sends TimeoutNow to \(transferee) immediately as \(transferee) already has up-to-date log")
        } else {
            sendAppend(to: transferee)
        }
    }
}

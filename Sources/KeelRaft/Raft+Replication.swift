extension Raft {
    /// Appends `entries` (their term and index are assigned here) to the leader's log.
    /// Returns false, appending nothing, when they would pass the uncommitted-bytes limit.
    func appendEntries(_ entries: [Entry]) -> Bool {
        var entries = entries
        let last = raftLog.lastIndex
        for i in entries.indices {
            entries[i].term = term
            entries[i].index = last.advanced(by: Int64(i + 1))
        }
        let bytes = entries.reduce(UInt64(0)) { $0 + UInt64($1.data.count) }
        // An empty log of uncommitted entries takes one proposal of any size, so a single
        // large entry can always make progress.
        if uncommittedBytes > 0 && bytes > 0 && uncommittedBytes + bytes > config.uncommittedEntriesBytesMax {
            return false
        }
        uncommittedBytes += bytes
        let newLast = raftLog.append(entries)
        _ = tracker[id]!.maybeUpdate(newLast)
        broadcastPending = true
        _ = maybeCommit()
        return true
    }

    /// Entries handed out to apply are no longer uncommitted.
    func reduceUncommittedBytes(_ entries: [Entry]) {
        let bytes = entries.reduce(UInt64(0)) { $0 + UInt64($1.data.count) }
        uncommittedBytes = bytes > uncommittedBytes ? 0 : uncommittedBytes - bytes
    }

    /// Advances the commit index to what a quorum of voters holds, if that entry is of this
    /// term (older entries are committed only by a later entry of the leader's own term).
    func maybeCommit() -> Bool {
        let quorumIndex = tracker.committedIndex()
        guard quorumIndex != .max, raftLog.maybeCommit(quorumIndex, term: term) else { return false }
        broadcastPending = true
        return true
    }

    /// Sends the appends broadcasts waiting since the last Ready: new entries and the new
    /// commit index go out as one append per follower.
    func flushBroadcast() {
        if broadcastPending {
            broadcastPending = false
            if role == .leader { broadcastAppend() }
        }
        if let context = readRoundContext {
            readRoundContext = nil
            if role == .leader { broadcastHeartbeat(context: context) }
        }
    }

    /// Sends every follower its new entries, or an empty append carrying a commit index it
    /// has not been sent yet.
    func broadcastAppend() {
        for member in tracker.ids where member != id {
            let pr = tracker[member]!
            let upToDate = pr.state == .replicate && pr.next > raftLog.lastIndex && pr.sentCommit >= raftLog.committed
            if !upToDate { sendAppend(to: member) }
        }
    }

    /// Sends `to` what it lacks: at least an (empty, commit-carrying) append, then more while
    /// its in-flight window allows (pipelining).
    func sendAppend(to member: NodeID) {
        guard maybeSendAppend(to: member, sendIfEmpty: true) else { return }
        while maybeSendAppend(to: member, sendIfEmpty: false) {}
    }

    /// Sends one append (or a snapshot when the entries it needs are compacted). Returns
    /// whether a message went out.
    @discardableResult
    func maybeSendAppend(to member: NodeID, sendIfEmpty: Bool) -> Bool {
        guard let pr = tracker[member], !pr.isPaused else { return false }
        let previous = pr.next.previous
        let previousTerm = raftLog.term(at: previous)
        let entries = raftLog.entries(from: pr.next, bytesMax: config.appendBytesMax)
        guard let previousTerm, let entries else { return maybeSendSnapshot(to: member) }
        if entries.isEmpty && !sendIfEmpty { return false }
        let bytes = entries.reduce(UInt64(0)) { $0 + $1.sizeBytes }
        send(Message(
            type: .append, to: member, logTerm: previousTerm, index: previous, entries: entries,
            commit: raftLog.committed))
        tracker[member]!.sentAppend(entryCount: entries.count, bytes: bytes, last: entries.last?.index ?? previous)
        tracker[member]!.sentCommit = max(tracker[member]!.sentCommit, raftLog.committed)
        return true
    }

    private func maybeSendSnapshot(to member: NodeID) -> Bool {
        guard tracker[member]!.recentActive else {
            log("ignore sending snapshot to \(member) since it is not recently active")
            return false
        }
        guard let snapshot = raftLog.snapshot() else {
            log("failed to send snapshot to \(member) because snapshot is temporarily unavailable")
            return false
        }
        precondition(!snapshot.isEmpty, "the log is compacted but there is no snapshot")
        log("[firstindex: \(raftLog.firstIndex), commit: \(raftLog.committed)] sent snapshot[index: \(snapshot.metadata.index), term: \(snapshot.metadata.term)] to \(member)")
        tracker[member]!.becomeSnapshot(snapshot.metadata.index)
        send(Message(type: .snapshot, to: member, snapshot: snapshot))
        return true
    }

    /// Heartbeats carry the commit index only as far as the follower is known to match, so a
    /// follower never commits past entries it may not have; `context` ties answers to reads.
    func broadcastHeartbeat(context: [UInt8] = []) {
        for member in tracker.ids where member != id {
            let commit = min(tracker[member]!.match, raftLog.committed)
            send(Message(type: .heartbeat, to: member, commit: commit, context: context))
        }
    }

    func sendTimeoutNow(to member: NodeID) {
        send(Message(type: .timeoutNow, to: member))
    }
}

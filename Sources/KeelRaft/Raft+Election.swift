/// Why a node campaigns.
enum CampaignKind {
    /// The pre-vote phase: asks whether it could win without raising anyone's term.
    case preElection
    case election
    /// Asked to by the leader handing over (skips the pre-vote and overrides leases).
    case transfer
}

/// The context a transfer campaign's vote requests carry, so voters override their lease.
let campaignTransferContext = Array("CampaignTransfer".utf8)

extension Raft {
    /// Starts an election if this node may.
    func hup(_ kind: CampaignKind) {
        if role == .leader {
            log("ignoring hup: already leader")
            return
        }
        guard isPromotable else {
            log("is not promotable, cannot campaign")
            return
        }
        // A conf change committed but not yet applied could change who may vote: wait.
        if hasUnappliedConfChange() {
            log("cannot campaign at term \(term): unapplied conf change pending")
            return
        }
        log("is starting a new election at term \(term)")
        campaign(kind)
    }

    private func hasUnappliedConfChange() -> Bool {
        guard raftLog.committed > raftLog.applied else { return false }
        var low = raftLog.applied.next
        let high = raftLog.committed.next
        while low < high {
            guard let batch = raftLog.slice(low, high, bytesMax: config.committedEntriesBytesMax), !batch.isEmpty else {
                return false
            }
            if batch.contains(where: { $0.kind == .confChange }) { return true }
            low = batch.last!.index.next
        }
        return false
    }

    func campaign(_ kind: CampaignKind) {
        let requestType: MessageType
        let requestTerm: Term
        if kind == .preElection {
            becomePreCandidate()
            requestType = .preVote
            // The term this node would campaign in; its own stays until the pre-vote wins.
            requestTerm = term.next
        } else {
            becomeCandidate()
            requestType = .vote
            requestTerm = term
        }
        if poll(id, type: requestType.voteResponse, granted: true) == .won {
            // A single voter wins at once.
            if kind == .preElection { campaign(.election) } else { becomeLeader() }
            return
        }
        for voter in tracker.voters.voters where voter != id {
            log("[logterm: \(raftLog.lastTerm), index: \(raftLog.lastIndex)] sent \(requestType.rawValue) request to \(voter) at term \(term)")
            send(Message(
                type: requestType, to: voter, term: requestTerm, logTerm: raftLog.lastTerm, index: raftLog.lastIndex,
                context: kind == .transfer ? campaignTransferContext : []))
        }
    }

    /// Records `from`'s answer and returns the election's result so far.
    func poll(_ from: NodeID, type: MessageType, granted: Bool) -> VoteResult {
        if granted {
            log("received \(type.rawValue) from \(from) at term \(term)")
        } else {
            log("received \(type.rawValue) rejection from \(from) at term \(term)")
        }
        tracker.recordVote(from, granted: granted)
        let tally = tracker.tallyVotes()
        if from != id || tally.result != .won {
            log("has received \(tally.granted) \(type.rawValue) votes and \(tally.rejected) vote rejections")
        }
        return tally.result
    }

    /// Answers a vote or pre-vote request at this node's term or above.
    func handleVoteRequest(_ m: Message) {
        // A repeated request from the node already voted for; a fresh vote when none is cast
        // and no leader is known; a pre-vote for a future term (which promises nothing).
        let canVote = vote == m.from || (vote == .none && lead == .none) || (m.type == .preVote && m.term > term)
        if canVote && raftLog.isUpToDate(index: m.index, term: m.logTerm) {
            log("[logterm: \(raftLog.lastTerm), index: \(raftLog.lastIndex), vote: \(vote)] cast \(m.type.rawValue) for \(m.from) [logterm: \(m.logTerm), index: \(m.index)] at term \(term)")
            // A granted answer carries the request's term so the candidate counts it; for a
            // pre-vote that term is in the future, and this node's own term stays.
            send(Message(type: m.type.voteResponse, to: m.from, term: m.term))
            if m.type == .vote {
                electionElapsed = 0
                vote = m.from
            }
        } else {
            log("[logterm: \(raftLog.lastTerm), index: \(raftLog.lastIndex), vote: \(vote)] rejected \(m.type.rawValue) from \(m.from) [logterm: \(m.logTerm), index: \(m.index)] at term \(term)")
            send(Message(type: m.type.voteResponse, to: m.from, term: term, reject: true))
        }
    }

    /// A vote answer while (pre-)campaigning.
    func handleVoteResponse(_ m: Message) {
        let expected: MessageType = role == .preCandidate ? .preVoteResponse : .voteResponse
        guard m.type == expected else { return }
        switch poll(m.from, type: m.type, granted: !m.reject) {
        case .won:
            if role == .preCandidate {
                campaign(.election)
            } else {
                becomeLeader()
            }
        case .lost:
            // A pre-vote answer may carry a newer term; the term check already adopted it.
            becomeFollower(term: term, leader: .none)
        case .pending:
            break
        }
    }
}

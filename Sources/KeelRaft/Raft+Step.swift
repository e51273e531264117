typealias StepResult = Result<Void, RaftRefusal>

extension Raft {
    /// Feeds one message (from a peer, or local) into the state machine.
    func step(_ m: Message) -> StepResult {
        guard handleTerm(m) else { return .success(()) }
        switch m.type {
        case .hup:
            hup(config.preVote ? .preElection : .election)
            return .success(())
        case .vote, .preVote:
            handleVoteRequest(m)
            return .success(())
        default:
            switch role {
            case .leader: return stepLeader(m)
            case .candidate, .preCandidate: return stepCandidate(m)
            case .follower: return stepFollower(m)
            }
        }
    }

    /// Compares `m`'s term with this node's; returns whether `m` still needs handling.
    private func handleTerm(_ m: Message) -> Bool {
        if m.term == .zero { return true }  // local, or a forwarded proposal/read
        if m.term > term {
            if m.type == .vote || m.type == .preVote {
                let forced = m.context == campaignTransferContext
                let inLease = config.checkQuorum && lead != .none && electionElapsed < config.electionTimeoutTicks
                if !forced && inLease {
                    // Leader lease: a live leader was heard from within the election timeout,
                    // so a candidate with a higher term is ignored rather than let depose it.
                    log("[logterm: \(raftLog.lastTerm), index: \(raftLog.lastIndex), vote: \(vote)] ignored \(m.type.rawValue) from \(m.from) [logterm: \(m.logTerm), index: \(m.index)] at term \(term): lease is not expired (remaining ticks: \(config.electionTimeoutTicks - electionElapsed))")
                    return false
                }
            }
            switch m.type {
            case .preVote:
                break  // a pre-vote never changes terms
            case .preVoteResponse where !m.reject:
                break  // the future term is adopted only when the pre-vote wins
            default:
                log("received \(m.type.rawValue) with higher term \(m.term) from \(m.from) [term: \(term)]")
                let leader: NodeID = [.append, .heartbeat, .snapshot].contains(m.type) ? m.from : .none
                becomeFollower(term: m.term, leader: leader)
            }
            return true
        }
        if m.term < term {
            if (config.checkQuorum || config.preVote) && (m.type == .heartbeat || m.type == .append) {
                // A stale leader cut off by a partition would otherwise never learn of the
                // newer term: with pre-vote or check-quorum nobody bumps its term by voting.
                send(Message(type: .appendResponse, to: m.from))
            } else if m.type == .preVote {
                // Rejecting with our term lets the pre-candidate catch up to it.
                log("rejected \(m.type.rawValue) from \(m.from) [logterm: \(m.logTerm), index: \(m.index)] at term \(term)")
                send(Message(type: .preVoteResponse, to: m.from, term: term, reject: true))
            } else {
                log("ignored a \(m.type.rawValue) message with lower term from \(m.from) [term: \(m.term)]")
            }
            return false
        }
        return true
    }

    private func stepCandidate(_ m: Message) -> StepResult {
        switch m.type {
        case .propose:
            log("no leader at term \(term); dropping proposal")
            return .failure(.proposalDropped(reason: "no leader"))
        case .append:
            becomeFollower(term: m.term, leader: m.from)
            handleAppend(m)
        case .heartbeat:
            becomeFollower(term: m.term, leader: m.from)
            handleHeartbeat(m)
        case .snapshot:
            becomeFollower(term: m.term, leader: m.from)
            handleSnapshot(m)
        case .voteResponse, .preVoteResponse:
            handleVoteResponse(m)
        case .readIndex, .transferLeader:
            return .failure(.noLeader)
        case .timeoutNow:
            log("ignored TimeoutNow from \(m.from): already campaigning")
        default:
            break
        }
        return .success(())
    }

    private func stepFollower(_ m: Message) -> StepResult {
        switch m.type {
        case .propose:
            guard lead != .none else {
                log("no leader at term \(term); dropping proposal")
                return .failure(.proposalDropped(reason: "no leader"))
            }
            forward(m)
        case .append:
            electionElapsed = 0
            lead = m.from
            handleAppend(m)
        case .heartbeat:
            electionElapsed = 0
            lead = m.from
            handleHeartbeat(m)
        case .snapshot:
            electionElapsed = 0
            lead = m.from
            handleSnapshot(m)
        case .transferLeader, .readIndex:
            guard lead != .none else {
                log("no leader at term \(term); dropping \(m.type.rawValue)")
                return .failure(.noLeader)
            }
            forward(m)
        case .timeoutNow:
            log("received TimeoutNow from \(m.from) and starts an election to get leadership")
            // Skips the pre-vote: the leader itself asked, so there is no one to protect.
            hup(.transfer)
        case .readIndexResponse:
            readStates.append(ReadState(index: m.index, context: m.context))
        default:
            break
        }
        return .success(())
    }

    private func forward(_ m: Message) {
        var forwarded = m
        forwarded.to = lead
        forwarded.term = .zero
        send(forwarded)
    }
}

extension Raft {
    /// A leader's answer to a read request (its own or forwarded from a follower).
    func handleReadIndex(_ m: Message) -> StepResult {
        if tracker.voters.count == 1 && tracker.isVoter(id) {
            // The only voter is its own quorum: the commit index is safe at once.
            answerRead(m, index: raftLog.committed)
            return .success(())
        }
        guard readOnly.count + pendingReadIndexMessages.count < config.readIndexQueueMax else {
            return .failure(.readIndexDropped)
        }
        guard committedEntryInCurrentTerm else {
            // A new leader's commit index may lag entries committed by its predecessor; its
            // first entry of this term being committed proves it has them all.
            pendingReadIndexMessages.append(m)
            return .success(())
        }
        startReadIndexRound(m)
        return .success(())
    }

    var committedEntryInCurrentTerm: Bool { raftLog.term(at: raftLog.committed) == term }

    /// Stamps `m` with the commit index and queues it for the next heartbeat round. Reads
    /// arriving together share one round: it carries the newest read's context, and a quorum
    /// of answers to it confirms every read queued before it too.
    private func startReadIndexRound(_ m: Message) {
        readOnly.add(index: raftLog.committed, request: m)
        _ = readOnly.ack(from: id, context: m.context)
        readRoundContext = m.context
    }

    /// Starts the reads that waited for this term's first commit.
    func releasePendingReadIndexMessages() {
        guard !pendingReadIndexMessages.isEmpty, committedEntryInCurrentTerm else { return }
        let waiting = pendingReadIndexMessages
        pendingReadIndexMessages = []
        for m in waiting { startReadIndexRound(m) }
    }

    /// A heartbeat answer for a read round: once a quorum acknowledged, answer every read
    /// up to that round.
    func confirmReadIndex(ack from: NodeID, context: [UInt8]) {
        guard let acks = readOnly.ack(from: from, context: context) else { return }
        guard tracker.voters.voteResult({ acks.contains($0) ? true : nil }) == .won else { return }
        for read in readOnly.release(through: context) {
            answerRead(read.request, index: read.index)
        }
    }

    private func answerRead(_ request: Message, index: LogIndex) {
        if request.from == .none || request.from == id {
            readStates.append(ReadState(index: index, context: request.context))
        } else {
            send(Message(type: .readIndexResponse, to: request.from, index: index, context: request.context))
        }
    }
}

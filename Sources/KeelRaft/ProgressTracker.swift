/// The leader's bookkeeping for the whole membership: who votes, who learns, each member's
/// ``Progress``, and the votes of a running election.
///
/// Everything that walks the members walks `ids` (sorted) so behaviour never depends on
/// dictionary order.
struct ProgressTracker {
    private(set) var voters: MajorityConfig
    private(set) var learners: [NodeID]
    private(set) var progress: [NodeID: Progress] = [:]
    private(set) var votes: [NodeID: Bool] = [:]
    let inflightMessagesMax: Int
    let inflightBytesMax: UInt64

    init(inflightMessagesMax: Int, inflightBytesMax: UInt64) {
        voters = MajorityConfig([])
        learners = []
        self.inflightMessagesMax = inflightMessagesMax
        self.inflightBytesMax = inflightBytesMax
    }

    /// Every member, sorted.
    var ids: [NodeID] { (voters.voters + learners).sorted() }

    var confState: ConfState { ConfState(voters: voters.voters, learners: learners) }

    subscript(id: NodeID) -> Progress? {
        get { progress[id] }
        _modify { yield &progress[id] }
    }

    func isVoter(_ id: NodeID) -> Bool { voters.contains(id) }

    /// Adds `id` as a voter (promoting it if it is a learner); new members start probing at
    /// `next`.
    mutating func addVoter(_ id: NodeID, next: LogIndex) {
        learners.removeAll { $0 == id }
        voters.insert(id)
        if progress[id] == nil { progress[id] = newProgress(next: next, isLearner: false) }
        progress[id]!.isLearner = false
    }

    /// Adds `id` as a learner (demoting it if it is a voter).
    mutating func addLearner(_ id: NodeID, next: LogIndex) {
        voters.remove(id)
        if !learners.contains(id) {
            learners.append(id)
            learners.sort()
        }
        if progress[id] == nil { progress[id] = newProgress(next: next, isLearner: true) }
        progress[id]!.isLearner = true
    }

    mutating func remove(_ id: NodeID) {
        voters.remove(id)
        learners.removeAll { $0 == id }
        progress[id] = nil
        votes[id] = nil
    }

    private func newProgress(next: LogIndex, isLearner: Bool) -> Progress {
        var pr = Progress(
            next: next, inflights: Inflights(countMax: inflightMessagesMax, bytesMax: inflightBytesMax),
            isLearner: isLearner)
        // A new member counts as active until the next check-quorum round: it cannot have
        // answered yet.
        pr.recentActive = true
        return pr
    }

    /// Every member back to probing from `next`; `selfID` matches through `selfMatch`.
    mutating func resetAll(next: LogIndex, selfID: NodeID, selfMatch: LogIndex) {
        for id in ids {
            let learner = progress[id]?.isLearner ?? false
            var pr = newProgress(next: next, isLearner: learner)
            pr.recentActive = false
            if id == selfID { pr.match = selfMatch }
            progress[id] = pr
        }
    }

    /// The highest index a majority of voters has.
    func committedIndex() -> LogIndex { voters.committedIndex { progress[$0]?.match } }

    mutating func resetVotes() { votes = [:] }

    mutating func recordVote(_ id: NodeID, granted: Bool) {
        if votes[id] == nil { votes[id] = granted }
    }

    func tallyVotes() -> (granted: Int, rejected: Int, result: VoteResult) {
        let granted = voters.voters.filter { votes[$0] == true }.count
        let rejected = voters.voters.filter { votes[$0] == false }.count
        return (granted, rejected, voters.voteResult { votes[$0] })
    }

    /// Whether a majority of voters was heard from recently (`selfID` always counts).
    func quorumActive(selfID: NodeID) -> Bool {
        voters.voteResult { id in id == selfID || (progress[id]?.recentActive ?? false) } == .won
    }
}

/// The Raft state machine of one node: messages and ticks in, messages and log changes out
/// (collected by ``RawNode`` into a ``Ready``). No I/O, clock, thread or global randomness.
///
/// Split by concern: elections in `Raft+Election`, the step dispatch in `Raft+Step`, the
/// leader's replication in `Raft+Replication`, follower handlers in `Raft+Follower`,
/// reads in `Raft+ReadIndex`, membership in `Raft+ConfChange`.
final class Raft {
    let id: NodeID
    let config: Config
    var term: Term = .zero
    var vote: NodeID = .none
    var lead: NodeID = .none
    var role: StateRole = .follower
    var raftLog: RaftLog
    var tracker: ProgressTracker
    /// This node is a learner: it never campaigns.
    var isLearner = false

    /// Messages that may leave before this round's log writes are durable.
    var messages: [Message] = []
    /// Messages that may leave only after this round's hard state and entries are durable
    /// (answers that promise something about this node's log or vote).
    var messagesAfterPersist: [Message] = []
    /// Messages dropped because a Ready's queue was full.
    var droppedMessageCount: UInt64 = 0
    var readStates: [ReadState] = []
    var readOnly = ReadOnlyQueue()
    /// Read requests that arrived before this leader committed an entry of its term.
    var pendingReadIndexMessages: [Message] = []

    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    /// The member leadership is being handed to, or none.
    var leadTransferee: NodeID = .none
    /// A conf change may not be proposed while the applied index is below this.
    var pendingConfIndex: LogIndex = .zero
    /// Data bytes appended by this leader and not yet committed-and-handed-out.
    var uncommittedBytes: UInt64 = 0
    var proposalsSinceReady = 0
    /// This leader appended entries or advanced its commit since it last broadcast: proposals
    /// arriving together go out together in one append per follower when the Ready is built.
    var broadcastPending = false
    /// The context of the newest read waiting for its heartbeat round, sent when the Ready is
    /// built.
    var readRoundContext: [UInt8]?
    var rng: SeededGenerator

    init(config: Config, storage: RaftStorage) {
        config.validate()
        id = config.id
        self.config = config
        // Mix the id in so nodes given one seed still draw different timeouts.
        rng = SeededGenerator(seed: config.randomSeed ^ (config.id.rawValue &* 0x9E37_79B9_7F4A_7C15))
        raftLog = RaftLog(storage: storage)
        tracker = ProgressTracker(inflightMessagesMax: config.inflightMessagesMax, inflightBytesMax: config.inflightBytesMax)
        let (hardState, confState) = storage.initialState()
        for voter in confState.voters { tracker.addVoter(voter, next: raftLog.lastIndex.next) }
        for learner in confState.learners { tracker.addLearner(learner, next: raftLog.lastIndex.next) }
        isLearner = confState.learners.contains(id)
        if hardState != .empty { loadState(hardState) }
        if config.applied > raftLog.applied { raftLog.applied(through: config.applied) }
        becomeFollower(term: term, leader: .none)
    }

    private func loadState(_ state: HardState) {
        precondition(
            state.commit >= raftLog.committed && state.commit <= raftLog.lastIndex,
            "hard state commit \(state.commit) outside [\(raftLog.committed), \(raftLog.lastIndex)]")
        raftLog.advanceCommit(to: state.commit)
        term = state.term
        vote = state.vote
    }

    var hardState: HardState { HardState(term: term, vote: vote, commit: raftLog.committed) }
    var softState: SoftState { SoftState(leader: lead, role: role) }

    /// Whether this node may campaign: a voter of its own configuration.
    var isPromotable: Bool { tracker[id] != nil && !isLearner && tracker.isVoter(id) }

    func log(_ line: @autoclosure () -> String) {
        config.log?("\(id) \(line())")
    }

    /// Queues `message` from this node. Requests and forwards carry this node's term unless
    /// the caller set one (vote requests and their answers); proposals and read requests
    /// forwarded to the leader carry none, as they are about no term.
    func send(_ message: Message) {
        var m = message
        // A forwarded request keeps its origin (the leader answers a read to the follower
        // that asked; a transfer names its transferee in `from`).
        if m.from == .none { m.from = id }
        if m.type == .vote || m.type == .preVote || m.type == .voteResponse || m.type == .preVoteResponse {
            precondition(m.term != .zero, "\(m.type) needs an explicit term")
        } else if m.type != .propose && m.type != .readIndex {
            precondition(m.term == .zero, "\(m.type) sets its own term")
            m.term = term
        }
        guard messages.count + messagesAfterPersist.count < config.messagesPerReadyMax else {
            droppedMessageCount += 1
            return
        }
        switch m.type {
        case .appendResponse, .voteResponse, .preVoteResponse: messagesAfterPersist.append(m)
        default: messages.append(m)
        }
    }

    // MARK: Roles

    func reset(term newTerm: Term) {
        if term != newTerm {
            term = newTerm
            vote = .none
        }
        lead = .none
        electionElapsed = 0
        heartbeatElapsed = 0
        randomizedElectionTimeout = config.electionTimeoutTicks + rng.draw(below: config.electionTimeoutTicks)
        leadTransferee = .none
        tracker.resetVotes()
        tracker.resetAll(next: raftLog.lastIndex.next, selfID: id, selfMatch: raftLog.lastIndex)
        pendingConfIndex = .zero
        uncommittedBytes = 0
        broadcastPending = false
        // Reads waiting on the old role can no longer be confirmed; their callers time out
        // and retry, as with any lost request.
        readOnly = ReadOnlyQueue()
        pendingReadIndexMessages = []
        readRoundContext = nil
    }

    func becomeFollower(term newTerm: Term, leader: NodeID) {
        reset(term: newTerm)
        lead = leader
        role = .follower
        log("became follower at term \(term)")
    }

    func becomePreCandidate() {
        precondition(role != .leader, "a leader cannot become a pre-candidate")
        // The term and vote stay: a pre-vote changes nothing durable.
        tracker.resetVotes()
        lead = .none
        role = .preCandidate
        log("became pre-candidate at term \(term)")
    }

    func becomeCandidate() {
        precondition(role != .leader, "a leader cannot become a candidate")
        reset(term: term.next)
        vote = id
        role = .candidate
        log("became candidate at term \(term)")
    }

    func becomeLeader() {
        precondition(role == .candidate, "only a candidate can become leader")
        reset(term: term)
        lead = id
        role = .leader
        tracker[id]!.becomeReplicate()
        tracker[id]!.recentActive = true
        // Entries from earlier terms may hold an unapplied conf change: wait for them.
        pendingConfIndex = raftLog.lastIndex
        let appended = appendEntries([Entry(term: term, index: .zero)])
        precondition(appended, "a new leader's empty entry is never refused")
        log("became leader at term \(term)")
    }

    // MARK: Ticks

    func tick() {
        switch role {
        case .leader: tickHeartbeat()
        case .follower, .preCandidate, .candidate: tickElection()
        }
    }

    private func tickElection() {
        electionElapsed += 1
        if isPromotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            _ = step(Message(type: .hup, from: id))
        }
    }

    private func tickHeartbeat() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTimeoutTicks {
            electionElapsed = 0
            if config.checkQuorum { _ = step(Message(type: .checkQuorum, from: id)) }
            // A transfer that did not finish within an election timeout is abandoned.
            if role == .leader && leadTransferee != .none { abortLeaderTransfer() }
        }
        guard role == .leader else { return }
        if heartbeatElapsed >= config.heartbeatIntervalTicks {
            heartbeatElapsed = 0
            _ = step(Message(type: .beat, from: id))
        }
    }

    func abortLeaderTransfer() { leadTransferee = .none }
}

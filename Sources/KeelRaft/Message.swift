/// What a ``Message`` asks or answers.
///
/// Local kinds (`hup`, `beat`, `checkQuorum`, `unreachable`, `snapshotStatus`) never cross
/// the network; ``RawNode/step(_:)`` refuses them.
public enum MessageType: String, Hashable, Sendable, CaseIterable {
    /// Local: start an election.
    case hup = "Hup"
    /// Local: the leader's heartbeat tick.
    case beat = "Beat"
    /// Local: the leader checks it heard from a quorum in the last election timeout.
    case checkQuorum = "CheckQuorum"
    /// Local: the transport could not reach `from`.
    case unreachable = "Unreachable"
    /// Local: the application reports how sending a snapshot to `from` ended.
    case snapshotStatus = "SnapStatus"
    /// A proposal forwarded from a follower to the leader.
    case propose = "Prop"
    case append = "App"
    case appendResponse = "AppResp"
    case vote = "Vote"
    case voteResponse = "VoteResp"
    case preVote = "PreVote"
    case preVoteResponse = "PreVoteResp"
    case snapshot = "Snap"
    case heartbeat = "Heartbeat"
    case heartbeatResponse = "HeartbeatResp"
    /// A leadership transfer request forwarded to the leader.
    case transferLeader = "TransferLeader"
    /// The leader tells the transferee to campaign at once.
    case timeoutNow = "TimeoutNow"
    case readIndex = "ReadIndex"
    case readIndexResponse = "ReadIndexResp"

    /// Never sent over the network.
    public var isLocal: Bool {
        switch self {
        case .hup, .beat, .checkQuorum, .unreachable, .snapshotStatus: true
        default: false
        }
    }

    /// An answer to a request this node made; only meaningful from a known peer.
    public var isResponse: Bool {
        switch self {
        case .appendResponse, .voteResponse, .preVoteResponse, .heartbeatResponse, .unreachable,
            .snapshotStatus, .readIndexResponse:
            true
        default: false
        }
    }

    /// The response kind to a vote request.
    var voteResponse: MessageType {
        switch self {
        case .vote: .voteResponse
        case .preVote: .preVoteResponse
        default: preconditionFailure("\(self) is not a vote request")
        }
    }
}

/// One raft message. Which fields matter depends on `type`; unused ones keep their zero value.
public struct Message: Hashable, Sendable {
    public var type: MessageType
    public var to: NodeID
    public var from: NodeID
    /// The sender's term; 0 for local messages.
    public var term: Term
    /// `append`: term of the entry at `index` (the one before `entries`). Vote requests: term
    /// of the candidate's last entry.
    public var logTerm: Term
    /// `append`: the index before `entries`. `appendResponse`: the highest index the follower
    /// now matches, or the rejected `append`'s index. Vote requests: the candidate's last index.
    /// `readIndexResponse`: the read index.
    public var index: LogIndex
    public var entries: [Entry]
    public var commit: LogIndex
    public var snapshot: Snapshot?
    public var reject: Bool
    /// `appendResponse` rejections: the follower's guess of the last index where its log may
    /// still match the leader's, and the term of its entry there, so the leader can skip a
    /// whole term of conflicting entries per round trip.
    public var rejectHintIndex: LogIndex
    public var rejectHintTerm: Term
    /// Read-index requests, heartbeats (and their responses), and transfer campaigns.
    public var context: [UInt8]

    public init(
        type: MessageType, to: NodeID = .none, from: NodeID = .none, term: Term = .zero,
        logTerm: Term = .zero, index: LogIndex = .zero, entries: [Entry] = [], commit: LogIndex = .zero,
        snapshot: Snapshot? = nil, reject: Bool = false, rejectHintIndex: LogIndex = .zero,
        rejectHintTerm: Term = .zero, context: [UInt8] = []
    ) {
        self.type = type
        self.to = to
        self.from = from
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.snapshot = snapshot
        self.reject = reject
        self.rejectHintIndex = rejectHintIndex
        self.rejectHintTerm = rejectHintTerm
        self.context = context
    }

    /// Bytes this message stands for in limits: its entries (and snapshot data).
    public var sizeBytes: UInt64 {
        entries.reduce(UInt64(64)) { $0 + $1.sizeBytes } + UInt64(snapshot?.data.count ?? 0)
    }
}

/// A step, proposal or request raft refused. These are protocol outcomes, not failures: the
/// caller retries elsewhere or later, or tells its client.
public enum RaftRefusal: Error, Hashable, Sendable {
    /// The proposal was not taken into the log (no leader known, a transfer under way, this
    /// node removed, a limit reached: see `reason`). The caller must retry or fail the request.
    case proposalDropped(reason: String)
    /// A conf change is already pending (proposed and not yet applied).
    case confChangePending
    /// No leader is known to forward a request to.
    case noLeader
    /// A read-index request found the read-index queue full.
    case readIndexDropped
    /// A response came from a node this one does not track.
    case peerNotFound(NodeID)
    /// A local message type was passed to ``RawNode/step(_:)``.
    case stepLocalMessage(MessageType)
}

extension Result where Success == Void, Failure == RaftRefusal {
    /// The refusal, or nil when raft took the request.
    public var refusal: RaftRefusal? {
        if case .failure(let refusal) = self { return refusal }
        return nil
    }
}

/// How a ``RawNode`` behaves. Every queue and batch has a `...Max`.
public struct Config {
    /// This node's id; never ``NodeID/none``.
    public var id: NodeID
    /// A follower that hears nothing from a leader for a random number of ticks in
    /// `[electionTimeoutTicks, 2 × electionTimeoutTicks)` campaigns.
    public var electionTimeoutTicks: Int = 10
    /// A leader sends heartbeats every this many ticks. Must be below `electionTimeoutTicks`.
    public var heartbeatIntervalTicks: Int = 1
    /// The last index the application has applied (on restart); committed entries after it
    /// are handed out again.
    public var applied: LogIndex = .zero
    /// Seeds this node's generator of election timeouts; the same seed replays the same run.
    public var randomSeed: UInt64 = 0
    /// Campaign in two phases: a pre-vote that does not raise terms first, so a node that was
    /// partitioned away cannot depose a healthy leader when it comes back.
    public var preVote: Bool = true
    /// A leader that has not heard from a quorum within an election timeout steps down, and
    /// a follower that heard from a leader within one ignores vote requests (leader lease).
    public var checkQuorum: Bool = true

    /// Bytes of entries in one append message (one entry may exceed it alone).
    public var appendBytesMax: UInt64 = 1 << 20
    /// Appends in flight to one follower before the leader waits for acknowledgements.
    public var inflightMessagesMax: Int = 256
    /// Bytes of appends in flight to one follower (0: no byte limit).
    public var inflightBytesMax: UInt64 = 32 << 20
    /// Data bytes of entries the leader holds uncommitted; proposals past it are dropped.
    public var uncommittedEntriesBytesMax: UInt64 = 64 << 20
    /// Bytes of committed entries one ``Ready`` hands out to apply.
    public var committedEntriesBytesMax: UInt64 = 64 << 20
    /// Proposals accepted between two ``Ready``s; more are dropped until the next one.
    public var proposalsPerReadyMax: Int = 4096
    /// Messages queued for one ``Ready``. Past it messages are dropped and counted (raft
    /// tolerates lost messages; proposals are never dropped this way silently).
    public var messagesPerReadyMax: Int = 16384
    /// Read-index requests waiting for a heartbeat round or for the first commit of a term.
    public var readIndexQueueMax: Int = 4096

    /// Receives one line per notable event (elections, role changes, conf changes).
    public var log: ((String) -> Void)?

    public init(id: NodeID) {
        self.id = id
    }

    func validate() {
        precondition(id != .none, "a raft node needs an id")
        precondition(heartbeatIntervalTicks > 0, "heartbeatIntervalTicks must be positive")
        precondition(electionTimeoutTicks > heartbeatIntervalTicks, "electionTimeoutTicks must exceed heartbeatIntervalTicks")
        precondition(appendBytesMax > 0 && inflightMessagesMax > 0 && uncommittedEntriesBytesMax > 0, "limits must be positive")
        precondition(committedEntriesBytesMax > 0 && proposalsPerReadyMax > 0, "limits must be positive")
        precondition(messagesPerReadyMax > 0 && readIndexQueueMax > 0, "limits must be positive")
    }
}

/// A small seeded generator (SplitMix64): deterministic, so a run replays from its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform draw from 0..<`bound`, computed here rather than by the standard library's
    /// `random(in:using:)`, whose mapping from generator output to a range no toolchain
    /// promises to keep: a recorded seed must mean the same election timeouts everywhere.
    /// Multiply-high with rejection of the biased low products (Lemire, 2019).
    public mutating func draw(below bound: Int) -> Int {
        precondition(bound > 0, "an empty range to draw from")
        let range = UInt64(bound)
        var product = next().multipliedFullWidth(by: range)
        if product.low < range {
            let threshold = (0 &- range) % range
            while product.low < threshold { product = next().multipliedFullWidth(by: range) }
        }
        return Int(product.high)
    }
}

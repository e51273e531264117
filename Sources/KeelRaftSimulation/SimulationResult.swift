/// Why a run failed, and where: the seed and step replay it exactly.
public struct SimulationFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A safety property broke (see ``SafetyViolation``).
        case safety(SafetyViolation)
        /// After everything healed, no new proposal reached every member in time.
        case liveness(String)
        /// KeelRaft handed the application something its contract rules out (entries to
        /// persist without a sync, a commit index beyond the log, a gap in the log).
        case contract(String)
    }

    public let kind: Kind
    public let seed: UInt64
    public let nodeCount: Int
    /// The step at which the failure was seen (every delivery, tick, client action, crash and
    /// restart is one step), and the simulated time then.
    public let step: UInt64
    public let microtick: UInt64
    public let microticksPerTick: UInt64

    public var description: String {
        let what: String
        switch kind {
        case .safety(let violation): what = "safety: \(violation)"
        case .liveness(let detail): what = "liveness: \(detail)"
        case .contract(let detail): what = "contract: \(detail)"
        }
        return "seed \(seed) (\(nodeCount) nodes) failed at step \(step), tick \(microtick / microticksPerTick).\(microtick % microticksPerTick): \(what)"
    }
}

/// What one run did; `failure` is nil when it passed.
public struct SimulationResult: Sendable {
    public let options: SimulationOptions
    public var failure: SimulationFailure?
    public var steps: UInt64 = 0
    public var ticks = 0
    /// Ticks from the heal until a new proposal was applied on every member.
    public var livenessTicks: Int?
    public var proposalsMade: UInt64 = 0
    public var entriesApplied: Int = 0
    public var leadersElected = 0
    public var crashes = 0
    public var snapshotsInstalled = 0
    public var compactions = 0
    public var readsAnswered = 0
    public var confChangesApplied = 0
    public var messagesSent: UInt64 = 0
    public var messagesDropped: UInt64 = 0
    public var messagesDuplicated: UInt64 = 0

    public var passed: Bool { failure == nil }

    public var summary: String {
        let outcome = failure.map { "FAIL \($0)" } ?? "ok"
        return "seed \(options.seed): \(outcome) — steps \(steps), ticks \(ticks), liveness \(livenessTicks.map(String.init) ?? "-") ticks, "
            + "proposals \(proposalsMade), applied \(entriesApplied), leaders \(leadersElected), crashes \(crashes), "
            + "snapshots \(snapshotsInstalled), compactions \(compactions), reads \(readsAnswered), conf changes \(confChangesApplied), "
            + "messages \(messagesSent) sent \(messagesDropped) dropped \(messagesDuplicated) duplicated"
    }
}

/// One measured configuration of `keel-bench raft`: a fresh cluster kept at `inFlight`
/// proposed-but-not-yet-committed entries for a fixed time.
struct RaftPhase: Sendable {
    let inFlight: Int
    let entries: UInt64
    let seconds: Double
    let userMicroseconds: UInt64
    let systemMicroseconds: UInt64
    let readies: UInt64
    let messages: UInt64
    let refusedProposals: UInt64

    var entriesPerSecond: Double { seconds > 0 ? Double(entries) / seconds : 0 }
    var cpuMicroseconds: UInt64 { userMicroseconds + systemMicroseconds }
    /// CPU nanoseconds (user + system) per committed entry.
    var cpuNanosecondsPerEntry: Double? { entries > 0 ? Double(cpuMicroseconds) * 1000 / Double(entries) : nil }
    var messagesPerEntry: Double? { entries > 0 ? Double(messages) / Double(entries) : nil }
    var readiesPerEntry: Double? { entries > 0 ? Double(readies) / Double(entries) : nil }
}

/// Drives a ``RaftCluster``: before each round the client tops the leader up to `inFlight`
/// outstanding proposals, all the new ones in one batch (as the node's raft loop drains every
/// waiting request into one proposal), then the cluster runs one round (Readys,
/// deliveries), and again. An entry counts once the
/// leader hands it out as committed. Everything runs on the calling thread, so the figures
/// are one core's.
struct RaftBenchmark {
    let seconds: Double
    let entryBytes: Int
    /// One propose(batch:) of every missing entry per round (the raft loop's way), or one
    /// propose() per entry.
    let batchesProposals: Bool
    let progress: ProgressLine
    /// Time to run before measuring, so allocations and caches settle.
    static let warmUpSeconds = 0.3

    func run(inFlight: Int) throws(BenchFailure) -> RaftPhase {
        let cluster = RaftCluster(compactionMarginEntries: UInt64(max(4096, 2 * inFlight)))
        try cluster.electLeader()
        // One buffer for every proposal: the payload's bytes are shared (copy on write), so
        // the figures are raft's cost, not the client's allocations.
        let payload = [UInt8](repeating: 0xA5, count: entryBytes)
        var proposed = cluster.leaderApplied
        var refused: UInt64 = 0

        func drive(until deadline: UInt64) {
            var rounds: UInt64 = 0
            while true {
                let room = UInt64(inFlight) - (proposed - cluster.leaderApplied)
                if room > 0 && batchesProposals {
                    if cluster.propose(batch: Array(repeating: payload, count: Int(room))) {
                        proposed += room
                    } else {
                        refused += room
                    }
                } else if room > 0 {
                    for _ in 0..<room {
                        guard cluster.propose(batch: CollectionOfOne(payload)) else { refused += 1; break }
                        proposed += 1
                    }
                }
                cluster.pump()
                rounds += 1
                if rounds % 64 == 0 && BenchSystem.monotonicNanoseconds() >= deadline { return }
            }
        }

        progress.update("raft: \(inFlight) in flight, warming up")
        drive(until: BenchSystem.monotonicNanoseconds() + UInt64(Self.warmUpSeconds * 1e9))
        let appliedBefore = cluster.leaderApplied
        let readiesBefore = cluster.readyCount
        let messagesBefore = cluster.messageCount
        let refusedBefore = refused
        progress.update("raft: \(inFlight) in flight, measuring for \(Format.fixed(seconds, decimals: 1)) s")
        let cpuBefore = BenchSystem.processCPUMicroseconds()
        let start = BenchSystem.monotonicNanoseconds()
        drive(until: start + UInt64(seconds * 1e9))
        let elapsed = BenchSystem.monotonicNanoseconds() - start
        let cpuAfter = BenchSystem.processCPUMicroseconds()
        let phase = RaftPhase(
            inFlight: inFlight, entries: cluster.leaderApplied - appliedBefore, seconds: Double(elapsed) / 1e9,
            userMicroseconds: cpuAfter.user - cpuBefore.user,
            systemMicroseconds: cpuAfter.system - cpuBefore.system,
            readies: cluster.readyCount - readiesBefore, messages: cluster.messageCount - messagesBefore,
            refusedProposals: refused - refusedBefore)
        guard phase.entries > 0 else { throw BenchFailure("raft: nothing committed with \(inFlight) in flight") }
        return phase
    }
}

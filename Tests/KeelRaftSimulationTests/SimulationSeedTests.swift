import KeelRaftSimulation
import Testing

/// Fixed seeds of the cluster simulation: each must keep every safety property after every
/// step and regain liveness after the heal. A failure names the seed and the command that
/// replays it with a trace. Seeds are run in chunks so the chunks run in parallel.
///
/// The safety phase is kept short (`safetyTicks`) so a few thousand seeds fit in about a
/// minute of a debug build on two cores; `keel-raft-sim --seeds A..B` runs longer ones.
enum SeedSweep {
    static let safetyTicks = 150
    static let livenessTicksMax = 400
    static let seedsPerChunk: UInt64 = 50
    static let chunks = 20

    static func run(nodeCount: Int, chunk: Int) {
        let first = UInt64(chunk) * seedsPerChunk + 1
        for seed in first..<(first + seedsPerChunk) {
            let options = SimulationOptions(seed: seed, nodeCount: nodeCount, safetyTicks: safetyTicks,
                                            livenessTicksMax: livenessTicksMax)
            var simulation = Simulation(options: options)
            let result = simulation.run()
            if let failure = result.failure {
                Issue.record("""
                    \(failure)
                    replay: keel-raft-sim --seed \(seed) --nodes \(nodeCount) --ticks \(safetyTicks) --liveness-ticks \(livenessTicksMax) --verbose
                    """)
            }
        }
    }
}

@Test("3-node cluster, 1000 seeds", arguments: 0..<SeedSweep.chunks)
func threeNodeSeeds(chunk: Int) {
    SeedSweep.run(nodeCount: 3, chunk: chunk)
}

@Test("5-node cluster, 1000 seeds", arguments: 0..<SeedSweep.chunks)
func fiveNodeSeeds(chunk: Int) {
    SeedSweep.run(nodeCount: 5, chunk: chunk)
}

/// The same seed gives the same run, step for step: the trace of two runs is identical.
@Test(arguments: [(UInt64(7), 3), (UInt64(8), 5)])
func aSeedReplaysExactly(seed: UInt64, nodeCount: Int) {
    func traceDigest() -> (UInt64, Int, UInt64) {
        var digest = Digest.empty
        var lines = 0
        let options = SimulationOptions(seed: seed, nodeCount: nodeCount, safetyTicks: 150, livenessTicksMax: 400)
        var simulation = Simulation(options: options, trace: { line in
            digest = Digest.bytes(line.utf8, seed: digest)
            lines += 1
        })
        let result = simulation.run()
        #expect(result.passed, "\(result.summary)")
        return (digest, lines, result.steps)
    }
    let first = traceDigest()
    let second = traceDigest()
    #expect(first.1 > 100, "a run this long traces more than \(first.1) lines")
    #expect(first == second)
}

/// The whole pipeline can fail: with a network that corrupts appended entries, runs must stop
/// with a log matching (or state machine) violation that names the seed and step.
@Test func aCorruptingNetworkIsCaught() {
    var caught = 0
    for seed in UInt64(1)...20 {
        var options = SimulationOptions(seed: seed, nodeCount: 3, safetyTicks: 150, livenessTicksMax: 400)
        options.sabotage = .corruptAppendedEntries
        var simulation = Simulation(options: options)
        let result = simulation.run()
        guard let failure = result.failure else { continue }
        caught += 1
        #expect(failure.seed == seed && failure.step > 0)
        switch failure.kind {
        case .safety(let violation):
            #expect([.logMatching, .stateMachineSafety].contains(violation.property), "\(failure)")
        default:
            Issue.record("expected a safety violation, got \(failure)")
        }
    }
    #expect(caught >= 15, "only \(caught) of 20 sabotaged runs were caught")
}

/// The liveness check can fail: when the heal cuts every link, no marker can commit and the
/// run must end with a liveness failure at the bound.
@Test(arguments: [(UInt64(1), 3), (UInt64(2), 5)])
func aClusterThatNeverHealsFailsLiveness(seed: UInt64, nodeCount: Int) {
    var options = SimulationOptions(seed: seed, nodeCount: nodeCount, safetyTicks: 100, livenessTicksMax: 100)
    options.sabotage = .isolateEveryNodeAtHeal
    var simulation = Simulation(options: options)
    let result = simulation.run()
    guard case .liveness? = result.failure?.kind else {
        Issue.record("expected a liveness failure, got \(result.summary)")
        return
    }
    #expect(result.ticks >= 200)
}

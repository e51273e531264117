import ArgumentParser
import KeelRaftSimulation

/// `keel-raft-sim`: runs the deterministic simulation of a KeelRaft cluster for one seed (to
/// replay a failure, with a trace) or a range of seeds (a summary of failures).
struct KeelRaftSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keel-raft-sim",
        abstract: "Deterministic simulation of a 3- or 5-node KeelRaft cluster under faults.",
        discussion: """
        Each seed draws a run: a safety phase of --ticks ticks with network faults (loss, \
        duplication, delay, reordering, partitions), crashes and restarts, and a client that \
        proposes, changes membership, transfers leadership, reads and compacts; then a \
        liveness phase in which everything heals and a new proposal must reach every member \
        within --liveness-ticks ticks. Safety properties are checked after every step. The same \
        seed (and --nodes, --ticks) replays exactly. Without --nodes, even seeds run 3 nodes and \
        odd seeds 5.
        """
    )

    @Option(help: "Run this one seed.")
    var seed: UInt64?

    @Option(help: ArgumentHelp("Run the seeds A through B (inclusive).", valueName: "A..B"))
    var seeds: String?

    @Option(help: "Cluster size, 3 or 5 (default: 3 for even seeds, 5 for odd ones).")
    var nodes: Int?

    @Option(help: "Ticks of the safety phase.")
    var ticks: Int = 400

    @Option(help: "Ticks the liveness phase may take.")
    var livenessTicks: Int = 400

    @Flag(help: "Do not sync a Ready that installs a snapshot unless raft says mustSync (to reproduce what that does).")
    var noSnapshotSync = false

    @Flag(help: "Send the leader's stored snapshot, not one of its applied state (to reproduce what that does).")
    var storedSnapshots = false

    @Flag(name: .shortAndLong, help: "Print every step of the run (one seed only).")
    var verbose = false

    func validate() throws {
        guard (seed == nil) != (seeds == nil) else { throw ValidationError("give exactly one of --seed and --seeds") }
        if let nodes, nodes != 3 && nodes != 5 { throw ValidationError("--nodes must be 3 or 5") }
        if seeds != nil && verbose { throw ValidationError("--verbose traces one --seed") }
        if let seeds, Self.range(seeds) == nil { throw ValidationError("--seeds wants A..B with A <= B") }
        guard ticks >= 0 && livenessTicks > 0 else { throw ValidationError("--ticks must be >= 0 and --liveness-ticks > 0") }
    }

    static func range(_ text: String) -> ClosedRange<UInt64>? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: true)
        guard text.contains(".."), parts.count == 2, let low = UInt64(parts[0]), let high = UInt64(parts[1]), low <= high else { return nil }
        return low...high
    }

    func nodeCount(for seed: UInt64) -> Int { nodes ?? (seed % 2 == 0 ? 3 : 5) }

    func options(for seed: UInt64) -> SimulationOptions {
        var options = SimulationOptions(seed: seed, nodeCount: nodeCount(for: seed), safetyTicks: ticks, livenessTicksMax: livenessTicks)
        options.syncsReadysWithSnapshots = !noSnapshotSync
        options.sendsSnapshotsOfAppliedState = !storedSnapshots
        return options
    }

    func replayCommand(_ seed: UInt64) -> String {
        "keel-raft-sim --seed \(seed) --nodes \(nodeCount(for: seed)) --ticks \(ticks) --liveness-ticks \(livenessTicks)"
            + (noSnapshotSync ? " --no-snapshot-sync" : "") + (storedSnapshots ? " --stored-snapshots" : "") + " --verbose"
    }

    func run() throws {
        if let seed {
            let options = options(for: seed)
            print(options)
            var simulation = Simulation(options: options, trace: verbose ? { print($0) } : nil)
            let result = simulation.run()
            print(result.summary)
            if !result.passed {
                print("replay: \(replayCommand(seed))")
                throw ExitCode.failure
            }
            return
        }
        let range = Self.range(seeds!)!
        let clock = ContinuousClock()
        let start = clock.now
        var failed: [SimulationResult] = []
        var runs: UInt64 = 0
        var steps: UInt64 = 0
        var livenessTicksMax = 0
        for seed in range {
            var simulation = Simulation(options: options(for: seed))
            let result = simulation.run()
            runs += 1
            steps += result.steps
            livenessTicksMax = max(livenessTicksMax, result.livenessTicks ?? 0)
            if !result.passed {
                failed.append(result)
                print(result.failure!.description)
                print("  replay: \(replayCommand(seed))")
            }
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("\(runs) seeds (\(range.lowerBound)...\(range.upperBound)), \(runs - UInt64(failed.count)) passed, \(failed.count) failed; \(steps) steps in \((seconds * 100).rounded() / 100) s; slowest liveness \(livenessTicksMax) ticks")
        if !failed.isEmpty {
            print("failed seeds: " + failed.map { String($0.options.seed) }.joined(separator: " "))
            throw ExitCode.failure
        }
    }
}

KeelRaftSim.main()

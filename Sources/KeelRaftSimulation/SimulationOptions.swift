/// Everything one run does, drawn from its seed (VOPR-style: the seed picks not only the
/// faults but how hostile the run is), with a few knobs the caller fixes: the cluster size and
/// the length of each phase.
public struct SimulationOptions: Sendable, CustomStringConvertible {
    public let seed: UInt64
    public let nodeCount: Int

    /// Node ticks of the safety phase, during which every fault may happen.
    public var safetyTicks: Int
    /// After the safety phase everything heals; a new proposal must then be applied on every
    /// member within this many ticks, or the run fails for lack of liveness.
    public var livenessTicksMax: Int

    /// One node tick is this many microticks; message delays are in microticks, so messages
    /// interleave finely with ticks. Nodes tick at staggered microticks.
    public let microticksPerTick: UInt64 = 8
    public let electionTimeoutTicks = 10
    public let heartbeatIntervalTicks = 1

    /// How many fault phases the safety phase is cut into; each draws its own network.
    public var phaseCount: Int
    /// Per phase: chance of a partition, and of it being asymmetric, parts per million.
    public var partitionPPM: UInt32
    public var asymmetricPPM: UInt32
    /// Worst message faults a phase may draw (each phase draws up to these).
    public var lossPPMMax: UInt32
    public var duplicationPPMMax: UInt32
    public var stragglePPMMax: UInt32
    public var delayMaxMicroticks: UInt64

    /// Per tick per node: chance to crash, parts per million; and how long a node stays down.
    public var crashPPM: UInt32
    public var downTicks: ClosedRange<Int>
    /// How long a node's write of one Ready takes, at most, in microticks; 0 is a synchronous
    /// disk. While a write is under way the Ready's `messages` are already out and the node
    /// keeps stepping what arrives.
    public var diskLatencyMaxMicroticks: UInt64
    /// Each node's clock: it ticks every this many microticks (`microticksPerTick` when its
    /// clock is true, a little faster or slower when skewed), so timeouts drift apart.
    public var tickPeriodsMicroticks: [UInt64]
    /// A crash keeps a random prefix of unsynced writes; this is the chance it keeps none.
    public var loseAllUnsyncedPPM: UInt32

    /// Client behaviour per tick (parts per million per tick; a proposal burst is 1...4).
    public var proposePPM: UInt32
    public var confChangePPM: UInt32
    public var transferPPM: UInt32
    public var readPPM: UInt32
    public var compactPPM: UInt32
    /// Entries a node keeps before it may compact them into a snapshot.
    public var compactAfterEntries: Int

    /// A deliberate bug in the simulated environment, for tests that prove the checker catches
    /// what it must: never set outside such tests.
    public enum Sabotage: Sendable, Equatable {
        case none
        /// The network flips a byte of the last entry of some append messages, so a follower
        /// persists an entry that differs from its leader's at the same index and term.
        case corruptAppendedEntries
        /// The heal cuts every link instead of restoring them, so no proposal can commit.
        case isolateEveryNodeAtHeal
    }

    public var sabotage = Sabotage.none

    /// What the simulated node does beyond the letter of the Ready contract, as etcd's server
    /// does (see `Simulation+Ready.swift` and `Simulation.freshSnapshot`). Turned off only to
    /// reproduce what happens without: a crash after an unsynced snapshot Ready leaves a
    /// node that cannot restart, and a member added after the last stored snapshot never
    /// catches up.
    public var syncsReadysWithSnapshots = true
    public var sendsSnapshotsOfAppliedState = true

    /// Draws a run's options from `seed`.
    public init(seed: UInt64, nodeCount: Int, safetyTicks: Int = 400, livenessTicksMax: Int = 400) {
        precondition(nodeCount == 3 || nodeCount == 5, "the simulator runs 3- or 5-node clusters")
        precondition(safetyTicks >= 0 && livenessTicksMax > 0)
        self.seed = seed
        self.nodeCount = nodeCount
        self.safetyTicks = safetyTicks
        self.livenessTicksMax = livenessTicksMax
        var random = SimulationRandom(seed: seed ^ 0x6F70_7469_6F6E_7321)
        phaseCount = random.uniform(1...6)
        partitionPPM = random.pick([0, 200_000, 500_000, 800_000])
        asymmetricPPM = random.pick([0, 300_000, 600_000])
        lossPPMMax = random.pick([0, 10_000, 100_000, 300_000])
        duplicationPPMMax = random.pick([0, 10_000, 100_000])
        stragglePPMMax = random.pick([0, 10_000, 50_000])
        delayMaxMicroticks = random.pick([2, 8, 24, 64])
        crashPPM = random.pick([0, 1_000, 5_000, 20_000])
        downTicks = random.pick([1...5, 5...30, 20...80])
        loseAllUnsyncedPPM = random.pick([0, 500_000, 1_000_000])
        proposePPM = random.pick([100_000, 400_000, 900_000])
        confChangePPM = random.pick([0, 20_000, 80_000])
        transferPPM = random.pick([0, 5_000, 20_000])
        readPPM = random.pick([0, 50_000, 300_000])
        compactPPM = random.pick([0, 20_000, 100_000])
        compactAfterEntries = random.pick([1, 4, 16])
        diskLatencyMaxMicroticks = random.pick([0, 0, 4, 16])
        let skewed = random.chance(ppm: 500_000)
        tickPeriodsMicroticks = (0..<nodeCount).map { _ in skewed ? UInt64(random.uniform(6...10)) : 8 }
    }

    public var description: String {
        "seed=\(seed) nodes=\(nodeCount) ticks=\(safetyTicks)+\(livenessTicksMax) phases=\(phaseCount) "
            + "partition=\(partitionPPM / 10_000)% asym=\(asymmetricPPM / 10_000)% loss≤\(lossPPMMax / 10_000)% "
            + "dup≤\(duplicationPPMMax / 10_000)% straggle≤\(stragglePPMMax / 10_000)% delay≤\(delayMaxMicroticks)µt "
            + "crash=\(crashPPM)ppm/tick down=\(downTicks) propose=\(proposePPM / 10_000)% conf=\(confChangePPM)ppm "
            + "transfer=\(transferPPM)ppm read=\(readPPM / 10_000)% compact=\(compactPPM / 10_000)%/\(compactAfterEntries) "
            + "disk≤\(diskLatencyMaxMicroticks)µt clocks=\(tickPeriodsMicroticks.map(String.init).joined(separator: "/"))µt"
    }
}

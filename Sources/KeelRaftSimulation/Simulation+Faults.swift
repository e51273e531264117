import KeelRaft

extension Simulation {
    /// Draws the network of one fault phase: how lossy, duplicating and slow it is, and
    /// whether (and how) it is partitioned.
    mutating func beginFaultPhase(_ phase: Int) {
        var conditions = NetworkConditions()
        conditions.lossPPM = options.lossPPMMax == 0 ? 0 : UInt32(random.below(UInt64(options.lossPPMMax) + 1))
        conditions.duplicationPPM = options.duplicationPPMMax == 0 ? 0 : UInt32(random.below(UInt64(options.duplicationPPMMax) + 1))
        conditions.delayMinMicroticks = 1
        conditions.delayMaxMicroticks = 1 + random.below(options.delayMaxMicroticks)
        conditions.stragglePPM = options.stragglePPMMax == 0 ? 0 : UInt32(random.below(UInt64(options.stragglePPMMax) + 1))
        conditions.straggleMaxMicroticks = conditions.stragglePPM == 0 ? 0 : conditions.delayMaxMicroticks + 1 + random.below(40 * options.microticksPerTick)
        network.conditions = conditions
        network.partition = drawPartition()
        log("phase \(phase): loss \(conditions.lossPPM)ppm dup \(conditions.duplicationPPM)ppm delay \(conditions.delayMinMicroticks)...\(conditions.delayMaxMicroticks)µt straggle \(conditions.stragglePPM)ppm≤\(conditions.straggleMaxMicroticks)µt partition \(network.partition)")
    }

    private mutating func drawPartition() -> Partition {
        let count = nodes.count
        guard random.chance(ppm: options.partitionPPM) else { return Partition(nodeCount: count) }
        // A random side of 1...count/2 nodes (a minority, or half when the count is even).
        var slots = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { slots.swapAt(i, random.index(i + 1)) }
        let side = Array(slots.prefix(random.uniform(1...count / 2))).sorted()
        if random.chance(ppm: options.asymmetricPPM) {
            return Partition.asymmetric(nodeCount: count, senders: side)
        }
        return Partition.symmetric(nodeCount: count, side: side)
    }

    /// Crashes and restarts for this tick.
    mutating func faultsForTick() throws(SimulationFailure) {
        for slot in 0..<nodes.count {
            if let restartTick = nodes[slot].restartTick, restartTick <= currentTick {
                step += 1
                try restart(slot)
            } else if nodes[slot].isUp && random.chance(ppm: options.crashPPM) {
                step += 1
                crash(slot, downTicks: random.uniform(options.downTicks))
            }
        }
    }
}

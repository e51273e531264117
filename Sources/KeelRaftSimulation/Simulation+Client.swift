import KeelRaft

extension Simulation {
    /// The simulated clients, once per tick: proposals (unique payloads), membership changes,
    /// leadership transfers, ReadIndex reads and log compaction, each with the chance the
    /// seed drew. In the liveness phase membership changes and transfers stop, and a marker
    /// proposal is retried at the leader until one is committed.
    mutating func clientForTick() throws(SimulationFailure) {
        if random.chance(ppm: options.proposePPM) {
            let target = pickTarget(preferLeader: 700_000)
            if let target { try propose(at: target, count: random.uniform(1...4)) }
        }
        if !inLivenessPhase && random.chance(ppm: options.confChangePPM) { try changeMembership() }
        if !inLivenessPhase && random.chance(ppm: options.transferPPM) { try transferLeadership() }
        if random.chance(ppm: options.readPPM), let target = pickTarget(preferLeader: 300_000) { try read(at: target) }
        if random.chance(ppm: options.compactPPM) { try compact(random.index(nodes.count)) }
        if inLivenessPhase { try proposeMarker() }
    }

    /// An up node: the leader with `preferLeader` ppm when there is one, else any up node.
    private mutating func pickTarget(preferLeader: UInt32) -> Int? {
        if random.chance(ppm: preferLeader), let leader = currentLeader { return leader }
        let up = nodes.indices.filter { nodes[$0].isUp }
        return up.isEmpty ? nil : random.pick(up)
    }

    /// The up node that believes it leads the highest term, if any.
    var currentLeader: Int? {
        var best: Int?
        for slot in nodes.indices where nodes[slot].isUp && nodes[slot].role == .leader {
            if best == nil || nodes[slot].term > nodes[best!].term { best = slot }
        }
        return best
    }

    private mutating func propose(at slot: Int, count: Int) throws(SimulationFailure) {
        step += 1
        for _ in 0..<count {
            let id = nextProposalID
            nextProposalID += 1
            result.proposalsMade += 1
            let data = Self.encodeID(id, padding: random.uniform(0...24))
            let outcome = nodes[slot].raw!.propose(data)
            traceLine("client proposes #\(id) at node \(slot)\(Self.describe(outcome))")
        }
        try drainReady(slot)
    }

    private mutating func proposeMarker() throws(SimulationFailure) {
        guard markerIndex == nil, currentTick - lastMarkerTick >= options.electionTimeoutTicks,
              let leader = currentLeader else { return }
        lastMarkerTick = currentTick
        let id = nextProposalID
        markerIDs.insert(id)
        log("liveness: marker #\(id) proposed at node \(leader)")
        try propose(at: leader, count: 1)
    }

    /// One membership change at the leader, from what the leader has applied: remove a voter
    /// (never below `votersMin`, so a quorum stays possible once every node is up), add a
    /// removed node back as a learner, promote a learner, or remove a learner. A removed node
    /// keeps running on its own disk (it may campaign and be ignored) and may be re-added
    /// later: its durable term and vote make that safe.
    private mutating func changeMembership() throws(SimulationFailure) {
        guard let leader = currentLeader else { return }
        let conf = nodes[leader].confState
        let votersMin = nodes.count == 3 ? 2 : 3
        var choices: [ConfChange] = []
        if conf.voters.count > votersMin {
            choices += conf.voters.map { ConfChange(kind: .removeNode, nodeID: $0) }
        }
        choices += conf.learners.map { ConfChange(kind: .addNode, nodeID: $0) }
        choices += conf.learners.map { ConfChange(kind: .removeNode, nodeID: $0) }
        for slot in nodes.indices {
            let id = nodes[slot].id
            if !conf.voters.contains(id) && !conf.learners.contains(id) {
                choices.append(ConfChange(kind: .addLearnerNode, nodeID: id))
            }
        }
        guard !choices.isEmpty else { return }
        let change = random.pick(choices)
        step += 1
        let outcome = nodes[leader].raw!.proposeConfChange(change)
        log("client proposes conf change \(change) at node \(leader) (\(conf))\(Self.describe(outcome))")
        try drainReady(leader)
    }

    static func describe(_ outcome: Result<Void, RaftRefusal>) -> String {
        if case .failure(let refusal) = outcome { return ": refused (\(refusal))" }
        return ""
    }

    private mutating func transferLeadership() throws(SimulationFailure) {
        guard let leader = currentLeader else { return }
        let others = nodes[leader].confState.voters.filter { $0 != nodes[leader].id }
        guard !others.isEmpty else { return }
        let target = random.pick(others)
        step += 1
        log("client asks node \(leader) to transfer leadership to \(SimulatedNode.slot(of: target))")
        nodes[leader].raw!.transferLeader(to: target)
        try drainReady(leader)
    }

    private mutating func read(at slot: Int) throws(SimulationFailure) {
        let context = nextReadContext
        nextReadContext += 1
        step += 1
        checker.observeReadRequest(node: slot, context: context)
        let outcome = nodes[slot].raw!.readIndex(context: Self.encodeID(context))
        traceLine("client reads #\(context) at node \(slot) (commit known: \(checker.commitIndexMax))\(Self.describe(outcome))")
        try drainReady(slot)
    }

    /// Compacts `slot`'s log into a snapshot of its state machine at its applied index, once
    /// it holds enough applied entries. The disk syncs everything before the snapshot (see
    /// ``SimulatedDisk/compact(to:)``).
    private mutating func compact(_ slot: Int) throws(SimulationFailure) {
        guard nodes[slot].isUp else { return }
        let applied = nodes[slot].appliedIndex
        let snapshotIndex = nodes[slot].disk.snapshotIndex
        guard applied > snapshotIndex, applied.rawValue - snapshotIndex.rawValue >= UInt64(options.compactAfterEntries),
              applied > nodes[slot].storage!.firstIndex.previous else { return }
        step += 1
        let data = SimulatedNode.snapshotData(index: applied, state: nodes[slot].state)
        let snapshot = nodes[slot].storage!.createSnapshot(at: applied, confState: nodes[slot].confState, data: data)
        nodes[slot].disk.compact(to: snapshot)
        result.compactions += 1
        traceLine("node \(slot) compacts its log through \(snapshot.metadata.term)/\(applied)")
    }
}

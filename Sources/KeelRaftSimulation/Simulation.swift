import KeelRaft

/// A deterministic simulation of a 3- or 5-node KeelRaft cluster in one thread, driven by one
/// seed (TigerBeetle's VOPR and FoundationDB's simulator are the models).
///
/// Time is counted in microticks; a node ticks every `microticksPerTick` of them (or, with a
/// skewed clock, a little more or less often), each node at its own offset, and messages
/// take a few microticks, so deliveries and ticks interleave
/// finely. The run has two phases:
/// 1. safety: for `safetyTicks` ticks, a schedule drawn from the seed changes the network
///    (loss, duplication, delay, stragglers, symmetric and asymmetric partitions), crashes
///    and restarts nodes (losing unsynced writes), while a client proposes, changes
///    membership, transfers leadership, reads with ReadIndex and compacts logs;
/// 2. liveness: everything heals and every node comes back; a new proposal must then be
///    applied on every member within `livenessTicksMax` ticks.
///
/// After every step (one delivery, tick, client action, crash or restart) the
/// ``SafetyChecker`` has seen what changed and the run stops at the first violation. Nothing
/// here iterates a Dictionary or Set, reads a clock or uses a global generator, so the same
/// seed replays the same steps.
public struct Simulation {
    public let options: SimulationOptions
    /// Receives one line per step when set (the `--verbose` trace of keel-raft-sim).
    public var trace: ((String) -> Void)?

    var nodes: [SimulatedNode]
    var network: SimulatedNetwork<Envelope>
    var checker: SafetyChecker
    /// Faults and client choices; the nodes' election timeouts have seeds of their own.
    var random: SimulationRandom
    var now: UInt64 = 0
    var step: UInt64 = 0
    var result: SimulationResult
    var inLivenessPhase = false
    var nextProposalID: UInt64 = 1
    var nextReadContext: UInt64 = 1
    /// Proposal ids of the liveness phase's markers, and the first log index one landed at.
    var markerIDs: Set<UInt64> = []
    var markerIndex: LogIndex?
    var lastMarkerTick = -1_000_000
    /// The highest log index of a conf change any node applied (to count each change once).
    var highestConfChangeIndex = LogIndex.zero

    /// A message on the simulated wire, with the incarnation of its sender (for snapshot
    /// reports, which must reach only the incarnation that sent the snapshot).
    struct Envelope {
        let message: Message
        let senderIncarnation: Int
    }

    public init(options: SimulationOptions, trace: ((String) -> Void)? = nil) {
        self.options = options
        self.trace = trace
        var random = SimulationRandom(seed: options.seed)
        self.random = random.fork()
        let voters = (1...options.nodeCount).map { NodeID(UInt64($0)) }
        nodes = (0..<options.nodeCount).map { SimulatedNode(slot: $0, confState: ConfState(voters: voters)) }
        network = SimulatedNetwork(nodeCount: options.nodeCount)
        checker = SafetyChecker(nodeCount: options.nodeCount)
        result = SimulationResult(options: options)
    }

    /// Runs both phases to the end or to the first failure.
    public mutating func run() -> SimulationResult {
        do throws(SimulationFailure) {
            for slot in 0..<nodes.count { try start(slot) }
            try runSafetyPhase()
            try runLivenessPhase()
            try checkLogsPairwise()
        } catch {
            result.failure = error
            log("FAILED: \(error)")
        }
        result.steps = step
        result.ticks = Int(now / options.microticksPerTick)
        result.entriesApplied = checker.appliedCount
        result.messagesSent = network.sentCount
        result.messagesDropped = network.droppedCount
        result.messagesDuplicated = network.duplicatedCount
        return result
    }

    // MARK: Phases

    private mutating func runSafetyPhase() throws(SimulationFailure) {
        let phaseCount = max(1, options.phaseCount)
        let ticksPerPhase = max(1, options.safetyTicks / phaseCount)
        var phase = 0
        while currentTick < options.safetyTicks {
            if currentTick >= phase * ticksPerPhase && phase < phaseCount {
                beginFaultPhase(phase)
                phase += 1
            }
            try advanceOneMicrotick()
        }
    }

    private mutating func runLivenessPhase() throws(SimulationFailure) {
        inLivenessPhase = true
        network.conditions = .healed
        network.partition = Partition(nodeCount: nodes.count)
        if options.sabotage == .isolateEveryNodeAtHeal {
            network.partition = Partition.symmetric(nodeCount: nodes.count, side: [0])
            for a in 1..<nodes.count {
                for b in 1..<nodes.count where a != b { network.partition.block(from: a, to: b) }
            }
        }
        log("heal: network healed, every node restarts")
        for slot in 0..<nodes.count where !nodes[slot].isUp {
            step += 1
            try restart(slot)
        }
        let healTick = currentTick
        while currentTick - healTick < options.livenessTicksMax {
            try advanceOneMicrotick()
            if livenessReached() {
                result.livenessTicks = currentTick - healTick
                log("liveness: a proposal made after the heal is applied on every member after \(currentTick - healTick) ticks")
                return
            }
        }
        throw failure(.liveness("no proposal made after the heal was applied on every member within \(options.livenessTicksMax) ticks; \(clusterSummary)"))
    }

    var currentTick: Int { Int(now / options.microticksPerTick) }

    /// One microtick: every message due is delivered, nodes whose turn it is tick, and at the
    /// start of a tick the fault schedule and the client act.
    private mutating func advanceOneMicrotick() throws(SimulationFailure) {
        try completeDueWrites()
        while let (envelope, arrives) = network.popDue(now: now) {
            step += 1
            try deliver(envelope, arrives: arrives)
        }
        let phaseOfTick = now % options.microticksPerTick
        if phaseOfTick == 0 {
            if !inLivenessPhase { try faultsForTick() }
            try clientForTick()
        }
        for slot in 0..<nodes.count where (now + UInt64(slot)) % options.tickPeriodsMicroticks[slot] == 0 && nodes[slot].isUp {
            step += 1
            nodes[slot].raw!.tick()
            try drainReady(slot)
        }
        now += 1
    }

    // MARK: Delivery

    private mutating func deliver(_ envelope: InFlightMessage<Envelope>, arrives: Bool) throws(SimulationFailure) {
        let message = envelope.message.message
        let to = envelope.to
        let delivered = arrives && nodes[to].isUp
        if arrives && !delivered { network.countDroppedAtDestination() }
        if message.type == .snapshot {
            reportSnapshot(from: envelope.from, incarnation: envelope.message.senderIncarnation, to: message.to, delivered: delivered)
        }
        guard delivered else { return }
        traceLine("deliver \(envelope.from)->\(to) \(describe(message))")
        if case .failure(let refusal) = nodes[to].raw!.step(message) {
            // Refusals (a response from a peer no longer tracked, a proposal with no leader)
            // are protocol outcomes: the sender learns nothing, as on a real network.
            traceLine("  node \(to) refused: \(refusal)")
        }
        try drainReady(to)
    }

    /// The snapshot a leader's transport streams: one of its state machine as applied now, not
    /// the older one in its storage (etcd's server does the same when it sends a snapshot).
    /// The stored snapshot's membership may lack the very node it is sent to (one added after
    /// it was taken), which would refuse it forever; the applied state's membership has it.
    private func freshSnapshot(from slot: Int, replacing stored: Snapshot?) -> Snapshot? {
        let node = nodes[slot]
        guard options.sendsSnapshotsOfAppliedState, let stored, node.appliedIndex > stored.metadata.index,
              case .success(let term) = node.storage!.term(at: node.appliedIndex) else { return stored }
        return Snapshot(metadata: SnapshotMetadata(index: node.appliedIndex, term: term, confState: node.confState),
                        data: SimulatedNode.snapshotData(index: node.appliedIndex, state: node.state))
    }

    /// Tells the leader how a snapshot it sent ended, as a real transport would when the
    /// stream finishes or breaks. Only the incarnation that sent it hears.
    private mutating func reportSnapshot(from: Int, incarnation: Int, to: NodeID, delivered: Bool) {
        guard nodes[from].isUp, nodes[from].incarnation == incarnation else { return }
        nodes[from].raw!.reportSnapshot(to, status: delivered ? .finished : .failed)
        traceLine("snapshot report \(from)->\(SimulatedNode.slot(of: to)): \(delivered ? "finished" : "failed")")
    }

    mutating func send(_ message: Message, from slot: Int) {
        var message = message
        if message.type == .snapshot { message.snapshot = freshSnapshot(from: slot, replacing: message.snapshot) }
        if options.sabotage == .corruptAppendedEntries && message.type == .append,
           let last = message.entries.indices.last, !message.entries[last].data.isEmpty, random.chance(ppm: 50_000) {
            message.entries[last].data[0] ^= 0xFF
        }
        let to = SimulatedNode.slot(of: message.to)
        precondition(to >= 0 && to < nodes.count && to != slot, "node \(slot) sent to \(message.to)")
        let envelope = Envelope(message: message, senderIncarnation: nodes[slot].incarnation)
        let sent = network.send(envelope, from: slot, to: to, now: now, random: &random)
        if !sent && message.type == .snapshot {
            reportSnapshot(from: slot, incarnation: nodes[slot].incarnation, to: message.to, delivered: false)
        }
    }
}

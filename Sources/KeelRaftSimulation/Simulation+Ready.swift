import KeelRaft

extension Simulation {
    /// Takes every Ready `slot` has, the way a Keel node's raft loop would.
    ///
    /// With a synchronous disk (`diskLatencyMaxMicroticks` 0) each Ready is handled at once:
    /// persist (snapshot, entries, hard state; synced when `mustSync`), send, apply, answer
    /// reads, advance. With a slow disk, `messages` leave at once (the Ready contract lets
    /// them overlap the write) and the rest waits until the write completes some microticks
    /// later; meanwhile the node keeps stepping what arrives, and a crash loses the write.
    /// The checker sees each part when it happens.
    mutating func drainReady(_ slot: Int) throws(SimulationFailure) {
        var rounds = 0
        while nodes[slot].writing == nil, let raw = nodes[slot].raw, raw.hasReady {
            rounds += 1
            precondition(rounds <= 10_000, "node \(slot) keeps producing Readys")
            let ready = raw.ready()
            if let softState = ready.softState { nodes[slot].role = softState.role }
            if options.diskLatencyMaxMicroticks == 0 {
                try complete(ready, slot, messagesSent: false)
            } else {
                for message in ready.messages { send(message, from: slot) }
                let due = now + 1 + random.below(options.diskLatencyMaxMicroticks)
                nodes[slot].writing = SimulatedNode.Write(ready: ready, dueMicrotick: due)
            }
        }
    }

    /// Completes the writes that are due: persist, then the rest of their Ready.
    mutating func completeDueWrites() throws(SimulationFailure) {
        for slot in nodes.indices {
            guard let write = nodes[slot].writing, write.dueMicrotick <= now else { continue }
            step += 1
            nodes[slot].writing = nil
            try complete(write.ready, slot, messagesSent: true)
            try drainReady(slot)
        }
    }

    private mutating func complete(_ ready: Ready, _ slot: Int, messagesSent: Bool) throws(SimulationFailure) {
        try persist(ready, slot)
        if !messagesSent {
            for message in ready.messages { send(message, from: slot) }
        }
        for message in ready.messagesAfterPersist { send(message, from: slot) }
        try apply(ready.committedEntries, slot)
        for read in ready.readStates { try answer(read, slot) }
        nodes[slot].raw!.advance(ready)
    }

    private mutating func persist(_ ready: Ready, _ slot: Int) throws(SimulationFailure) {
        if let snapshot = ready.snapshot, !snapshot.isEmpty { try install(snapshot, slot) }

        var entries = ready.entries
        let durableSnapshot = nodes[slot].disk.snapshotIndex
        entries.removeAll { $0.index <= durableSnapshot }
        if let first = entries.first {
            guard ready.mustSync else { throw failure(.contract("node \(slot) was handed entries \(first.index)... to persist without a sync")) }
            guard first.index <= nodes[slot].disk.lastIndex.next, let previousTerm = nodes[slot].disk.term(at: first.index.previous) else {
                throw failure(.contract("node \(slot) was handed entries from \(first.index) after a durable log ending at \(nodes[slot].disk.lastIndex)"))
            }
            try check { (checker: inout SafetyChecker) throws(SafetyViolation) in
                try checker.observePersisted(node: slot, entries: entries.map(EntryFingerprint.init), previousTerm: previousTerm)
            }
        }
        if let state = ready.hardState {
            let before = nodes[slot].storage!.hardState
            if (state.term != before.term || state.vote != before.vote) && !ready.mustSync {
                throw failure(.contract("node \(slot) was handed a new term or vote (\(state)) to persist without a sync"))
            }
        }
        // A Ready with a snapshot is synced whatever `mustSync` says: its hard state carries a
        // commit index at least the snapshot's, and a crash that kept the (synced) snapshot but
        // lost that hard state would restart with a commit index below the snapshot, which
        // raft refuses. etcd's server does the same (it syncs the WAL after saving a snapshot).
        let installsSnapshot = options.syncsReadysWithSnapshots && (ready.snapshot.map { !$0.isEmpty } ?? false)
        nodes[slot].disk.write(entries: entries, hardState: ready.hardState, sync: ready.mustSync || installsSnapshot)
        nodes[slot].storage!.append(entries)
        if let state = ready.hardState {
            nodes[slot].storage!.setHardState(state)
            nodes[slot].term = state.term
            try observeCommit(state.commit, slot)
        }
        try observeLeadership(slot)
    }

    private mutating func install(_ snapshot: Snapshot, _ slot: Int) throws(SimulationFailure) {
        guard let (index, state) = SimulatedNode.decodeSnapshot(snapshot.data), index == snapshot.metadata.index else {
            throw failure(.contract("node \(slot) was handed a snapshot at \(snapshot.metadata.index) that no node made"))
        }
        nodes[slot].disk.install(snapshot)
        nodes[slot].storage!.apply(snapshot: snapshot)
        nodes[slot].appliedIndex = index
        nodes[slot].state = state
        nodes[slot].confState = snapshot.metadata.confState
        result.snapshotsInstalled += 1
        traceLine("  node \(slot) installs the snapshot at \(snapshot.metadata.term)/\(index) \(snapshot.metadata.confState)")
        try check { (checker: inout SafetyChecker) throws(SafetyViolation) in
            try checker.observeSnapshotRestored(node: slot, index: index, state: state)
        }
    }

    private mutating func observeCommit(_ commit: LogIndex, _ slot: Int) throws(SimulationFailure) {
        guard commit <= nodes[slot].disk.lastIndex else {
            throw failure(.contract("node \(slot) commits \(commit) beyond its durable log ending at \(nodes[slot].disk.lastIndex)"))
        }
        nodes[slot].commit = commit
        let entryTerm = nodes[slot].disk.term(at: commit)
        let term = nodes[slot].term
        try check { (checker: inout SafetyChecker) throws(SafetyViolation) in
            try checker.observeCommit(node: slot, commit: commit, term: term, entryTerm: entryTerm)
        }
    }

    /// Election safety and leader completeness, checked once per leadership.
    private mutating func observeLeadership(_ slot: Int) throws(SimulationFailure) {
        guard nodes[slot].role == .leader, nodes[slot].ledTerm != nodes[slot].term else { return }
        let term = nodes[slot].term
        nodes[slot].ledTerm = term
        result.leadersElected += 1
        log("node \(slot) leads term \(term) (last index \(nodes[slot].disk.lastIndex), commit \(nodes[slot].commit))")
        let disk = nodes[slot].disk
        try check { (checker: inout SafetyChecker) throws(SafetyViolation) in
            try checker.observeLeader(node: slot, term: term)
            try checker.checkNewLeader(node: slot, term: term, lastIndex: disk.lastIndex) { disk.term(at: $0) }
        }
    }

    private mutating func apply(_ entries: [Entry], _ slot: Int) throws(SimulationFailure) {
        for entry in entries {
            let fingerprint = EntryFingerprint(entry)
            try check { (checker: inout SafetyChecker) throws(SafetyViolation) in
                try checker.observeApplied(node: slot, entry: fingerprint)
            }
            nodes[slot].appliedIndex = entry.index
            nodes[slot].state = SafetyChecker.state(nodes[slot].state, applying: fingerprint)
            switch entry.kind {
            case .normal: try applyProposal(entry, slot)
            case .confChange: try applyConfChange(entry, slot)
            }
        }
    }

    private mutating func applyProposal(_ entry: Entry, _ slot: Int) throws(SimulationFailure) {
        guard !entry.data.isEmpty else { return }
        guard let id = Self.proposalID(entry.data), id < nextProposalID else {
            throw failure(.safety(SafetyViolation(.integrity, "node \(slot) applied \(entry.term)/\(entry.index) that no client proposed")))
        }
        if markerIndex == nil && markerIDs.contains(id) { markerIndex = entry.index }
    }

    private mutating func applyConfChange(_ entry: Entry, _ slot: Int) throws(SimulationFailure) {
        guard let change = ConfChange(decoding: entry.data) else {
            throw failure(.safety(SafetyViolation(.integrity, "node \(slot) applied \(entry.term)/\(entry.index), a conf change that does not decode")))
        }
        let confState = nodes[slot].raw!.applyConfChange(change)
        nodes[slot].confState = confState
        if entry.index > highestConfChangeIndex {
            highestConfChangeIndex = entry.index
            result.confChangesApplied += 1
        }
        traceLine("  node \(slot) applies \(change) at \(entry.index): \(confState)")
    }

    private mutating func answer(_ read: ReadState, _ slot: Int) throws(SimulationFailure) {
        guard let context = Self.proposalID(read.context) else {
            throw failure(.safety(SafetyViolation(.linearizableRead, "node \(slot) got a read answer with a context nobody sent")))
        }
        result.readsAnswered += 1
        traceLine("  node \(slot) read \(context) answered at \(read.index)")
        try check { (checker: inout SafetyChecker) throws(SafetyViolation) in
            try checker.observeReadState(node: slot, context: context, index: read.index)
        }
    }

    // MARK: Starting, crashing, restarting

    /// Starts (or restarts) `slot` from exactly what its disk holds.
    mutating func start(_ slot: Int) throws(SimulationFailure) {
        let disk = nodes[slot].disk
        let storage = disk.makeStorage()
        var config = Config(id: nodes[slot].id)
        config.electionTimeoutTicks = options.electionTimeoutTicks
        config.heartbeatIntervalTicks = options.heartbeatIntervalTicks
        config.applied = disk.snapshotIndex
        config.randomSeed = random.next()
        if let trace {
            let prefix = "  raft \(slot): "
            config.log = { trace(prefix + $0) }
        }
        nodes[slot].storage = storage
        nodes[slot].raw = RawNode(config: config, storage: storage)
        nodes[slot].restartTick = nil
        let snapshotState = disk.snapshot.isEmpty ? Digest.empty : (SimulatedNode.decodeSnapshot(disk.snapshot.data)?.state ?? 0)
        nodes[slot].appliedIndex = disk.snapshotIndex
        nodes[slot].state = snapshotState
        nodes[slot].confState = disk.snapshot.metadata.confState
        nodes[slot].role = .follower
        nodes[slot].term = disk.hardState.term
        nodes[slot].commit = disk.hardState.commit
        nodes[slot].ledTerm = nil
        try check { (checker: inout SafetyChecker) throws(SafetyViolation) in
            try checker.observeRestart(node: slot, durableCommit: disk.hardState.commit,
                                       snapshotIndex: disk.snapshotIndex, snapshotState: snapshotState)
        }
        try drainReady(slot)
    }

    mutating func restart(_ slot: Int) throws(SimulationFailure) {
        precondition(!nodes[slot].isUp)
        nodes[slot].incarnation += 1
        log("restart node \(slot) (durable: \(nodes[slot].disk.hardState), snapshot \(nodes[slot].disk.snapshotIndex), last \(nodes[slot].disk.lastIndex))")
        try start(slot)
    }

    /// Crashes `slot`: its RawNode, storage and state machine are gone; of its unsynced
    /// writes a prefix drawn from the seed reaches the disk.
    mutating func crash(_ slot: Int, downTicks: Int) {
        precondition(nodes[slot].isUp)
        let pending = nodes[slot].disk.pendingCount
        let keep = random.chance(ppm: options.loseAllUnsyncedPPM) ? 0 : random.uniform(0...pending)
        nodes[slot].disk.crash(keepingPending: keep)
        nodes[slot].raw = nil
        nodes[slot].storage = nil
        nodes[slot].writing = nil
        nodes[slot].role = .follower
        nodes[slot].restartTick = currentTick + downTicks
        result.crashes += 1
        log("crash node \(slot) for \(downTicks) ticks (kept \(keep) of \(pending) unsynced writes)")
    }

    /// Runs a checker observation; a violation becomes the run's failure at this step.
    mutating func check(_ body: (inout SafetyChecker) throws(SafetyViolation) -> Void) throws(SimulationFailure) {
        do {
            try body(&checker)
        } catch {
            throw failure(.safety(error))
        }
    }

    func failure(_ kind: SimulationFailure.Kind) -> SimulationFailure {
        SimulationFailure(kind: kind, seed: options.seed, nodeCount: options.nodeCount, step: step, microtick: now,
                          microticksPerTick: options.microticksPerTick)
    }

    /// A proposal's or read's id: the first 8 bytes, little-endian.
    static func proposalID(_ bytes: [UInt8]) -> UInt64? {
        guard bytes.count >= 8 else { return nil }
        var id: UInt64 = 0
        for i in 0..<8 { id |= UInt64(bytes[i]) << UInt64(8 * i) }
        return id
    }

    static func encodeID(_ id: UInt64, padding: Int = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + padding)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: id >> UInt64(shift))) }
        for i in 0..<padding { bytes.append(UInt8(truncatingIfNeeded: id &+ UInt64(i))) }
        return bytes
    }
}

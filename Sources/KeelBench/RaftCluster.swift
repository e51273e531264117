import KeelRaft

/// An in-process KeelRaft cluster for `keel-bench raft`: three RawNodes on one thread, each
/// over a MemoryStorage (no disk), joined by an instant network (a FIFO of messages delivered
/// as soon as the sender's Ready is handled). What it measures is raft's own cost per entry:
/// proposing, building Readys, replicating, counting acknowledgements, handing out commits.
final class RaftCluster {
    static let nodeCount = 3
    /// Applied entries a node keeps before it compacts its MemoryStorage (memory stays bounded
    /// on long runs; compaction is O(kept entries) each time, so it is done rarely).
    static let compactEveryEntries: UInt64 = 1 << 16

    let nodes: [RawNode]
    let storages: [MemoryStorage]
    private var outbox: [Message] = []
    private var appliedSinceCompaction: [UInt64]
    private var appliedIndex: [LogIndex]
    /// Entries the leader (node 0) applied: the committed count the benchmark reports.
    private(set) var leaderApplied: UInt64 = 0
    private(set) var readyCount: UInt64 = 0
    private(set) var messageCount: UInt64 = 0

    /// Entries a node keeps behind its applied index when it compacts: more than any follower
    /// can lag (one round's window), so the leader never needs a snapshot, which MemoryStorage
    /// here does not have.
    let compactionMarginEntries: UInt64

    init(compactionMarginEntries: UInt64) {
        self.compactionMarginEntries = compactionMarginEntries
        let voters = (1...Self.nodeCount).map { NodeID(UInt64($0)) }
        var nodes: [RawNode] = []
        var storages: [MemoryStorage] = []
        for id in voters {
            let storage = MemoryStorage(confState: ConfState(voters: voters))
            var config = Config(id: id)
            config.randomSeed = id.rawValue
            // No byte or count limit should be what bounds the window being measured.
            config.inflightMessagesMax = 4096
            config.proposalsPerReadyMax = 1 << 16
            storages.append(storage)
            nodes.append(RawNode(config: config, storage: storage))
        }
        self.nodes = nodes
        self.storages = storages
        appliedSinceCompaction = Array(repeating: 0, count: nodes.count)
        appliedIndex = Array(repeating: .zero, count: nodes.count)
    }

    /// Makes node 0 the leader and lets it commit its first entry of the term.
    func electLeader() throws(BenchFailure) {
        nodes[0].campaign()
        for _ in 0..<100 {
            pump()
            if nodes[0].isLeader && leaderApplied > 0 { return }
        }
        throw BenchFailure("raft: node 1 did not become leader of the benchmark cluster")
    }

    /// Proposes `batch` at the leader as one proposal (as Keel's raft loop drains every
    /// waiting request into one); false when raft refused it.
    func propose(batch: [[UInt8]]) -> Bool {
        if case .failure = nodes[0].propose(batch: batch) { return false }
        return true
    }

    /// Proposes one entry with its own propose() call; false when raft refused it.
    func propose(batch one: CollectionOfOne<[UInt8]>) -> Bool {
        if case .failure = nodes[0].propose(one.first!) { return false }
        return true
    }

    /// One round: every node's Ready is handled (persisted into its MemoryStorage, messages
    /// queued, committed entries applied), then every queued message is delivered.
    /// Returns whether anything happened.
    @discardableResult
    func pump() -> Bool {
        var busy = false
        for i in nodes.indices where nodes[i].hasReady {
            busy = true
            handleReady(i)
        }
        guard !outbox.isEmpty else { return busy }
        let delivering = outbox
        outbox.removeAll(keepingCapacity: true)
        messageCount += UInt64(delivering.count)
        for message in delivering {
            _ = nodes[Int(message.to.rawValue) - 1].step(message)
        }
        return true
    }

    private func handleReady(_ i: Int) {
        let node = nodes[i]
        let storage = storages[i]
        let ready = node.ready()
        readyCount += 1
        if let snapshot = ready.snapshot { storage.apply(snapshot: snapshot) }
        storage.append(ready.entries)
        if let state = ready.hardState { storage.setHardState(state) }
        outbox += ready.messages
        outbox += ready.messagesAfterPersist
        if let last = ready.committedEntries.last {
            let count = UInt64(ready.committedEntries.count)
            if i == 0 { leaderApplied += count }
            appliedIndex[i] = last.index
            appliedSinceCompaction[i] += count
        }
        node.advance(ready)
        if appliedSinceCompaction[i] >= Self.compactEveryEntries {
            let keep = compactionMarginEntries
            if appliedIndex[i].rawValue > keep { storage.compact(through: LogIndex(appliedIndex[i].rawValue - keep)) }
            appliedSinceCompaction[i] = 0
        }
    }
}

@testable import KeelRaft

/// An in-process cluster for tests: each node has a ``MemoryStorage``, messages wait in a
/// queue per destination until delivered, and links can be cut.
final class Cluster {
    struct Member {
        var node: RawNode
        var storage: MemoryStorage
        var applied: [Entry] = []
        var appliedIndex: LogIndex = .zero
        var confState: ConfState
    }

    var members: [NodeID: Member] = [:]
    var ids: [NodeID] { members.keys.sorted() }
    /// Messages waiting per destination, in send order.
    var inbox: [NodeID: [Message]] = [:]
    /// Directed links that drop everything (from, to).
    var cutLinks: Set<[NodeID]> = []
    /// Log lines from the nodes and the harness.
    var output: [String] = []
    var logEnabled = true
    var seed: UInt64
    /// Every committed entry any node applied, by index: no two nodes may apply different
    /// entries at one index (state machine safety).
    var appliedAt: [LogIndex: Entry] = [:]
    var violations: [String] = []

    init(seed: UInt64 = 1) { self.seed = seed }

    /// Output that `log-level none` silences (logs, Readies, messages).
    func emit(_ line: @autoclosure () -> String) { if logEnabled { output.append(line()) } }
    /// Output always shown (answers to inspection commands and refusals).
    func show(_ line: String) { output.append(line) }

    /// Adds a node whose storage starts at `snapshot` (empty: a brand new log).
    func addNode(_ id: NodeID, snapshot: Snapshot, configure: (inout Config) -> Void = { _ in }) {
        let storage = MemoryStorage(confState: snapshot.metadata.confState)
        if !snapshot.isEmpty { storage.apply(snapshot: snapshot) }
        var config = Config(id: id)
        config.electionTimeoutTicks = 3
        config.heartbeatIntervalTicks = 1
        config.randomSeed = seed
        config.applied = snapshot.metadata.index
        config.log = { [unowned self] line in self.emit(line) }
        configure(&config)
        members[id] = Member(node: RawNode(config: config, storage: storage), storage: storage, confState: snapshot.metadata.confState)
    }

    func node(_ id: NodeID) -> RawNode { members[id]!.node }

    /// Hands out one Ready of `id`, persists it, queues its messages and applies its entries.
    /// Returns whether there was one.
    @discardableResult
    func processReady(_ id: NodeID) -> Bool {
        let node = members[id]!.node
        guard node.hasReady else { return false }
        let rd = node.ready()
        emit(Format.ready(rd, of: id))
        let storage = members[id]!.storage
        if let snapshot = rd.snapshot {
            storage.apply(snapshot: snapshot)
            members[id]!.confState = snapshot.metadata.confState
            members[id]!.appliedIndex = snapshot.metadata.index
        }
        storage.append(rd.entries)
        if let hard = rd.hardState { storage.setHardState(hard) }
        for m in rd.allMessages { send(m) }
        for entry in rd.committedEntries {
            members[id]!.applied.append(entry)
            if entry.index != members[id]!.appliedIndex.next {
                violations.append("\(id) applied \(entry.index) after \(members[id]!.appliedIndex)")
            }
            members[id]!.appliedIndex = entry.index
            if let earlier = appliedAt[entry.index], earlier != entry {
                violations.append("\(id) applied \(entry) where another node applied \(earlier)")
            }
            appliedAt[entry.index] = entry
            if entry.kind == .confChange, let change = ConfChange(decoding: entry.data) {
                members[id]!.confState = node.applyConfChange(change)
            }
        }
        node.advance(rd)
        return true
    }

    func send(_ m: Message) {
        if cutLinks.contains([m.from, m.to]) || members[m.to] == nil {
            lost(m)
            return
        }
        inbox[m.to, default: []].append(m)
    }

    /// A transport tells the leader when a snapshot did not arrive, so it stops waiting.
    func lost(_ m: Message) {
        if m.type == .snapshot { members[m.from]?.node.reportSnapshot(m.to, status: .failed) }
    }

    /// A transport tells the leader when a snapshot was delivered, so it resumes replication
    /// even if the follower's answer is lost.
    func delivered(_ m: Message) {
        if m.type == .snapshot { members[m.from]?.node.reportSnapshot(m.to, status: .finished) }
    }

    /// Steps every queued message into `id`; returns how many there were.
    @discardableResult
    func deliver(to id: NodeID, printing: Bool = true) -> Int {
        let queued = inbox[id] ?? []
        inbox[id] = []
        for m in queued {
            if printing { emit(Format.message(m)) }
            if case .failure(let refusal) = members[id]!.node.step(m) { show("  refused: \(refusal)") }
            delivered(m)
        }
        return queued.count
    }

    /// Processes Readies and delivers messages until nothing moves.
    func stabilize(_ only: [NodeID]? = nil, roundsMax: Int = 1000) {
        let targets = only ?? ids
        for _ in 0..<roundsMax {
            var moved = false
            for id in targets where processReady(id) { moved = true }
            for id in targets where !(inbox[id] ?? []).isEmpty {
                emit("> \(id) receiving messages")
                deliver(to: id)
                moved = true
            }
            if !moved { return }
        }
        preconditionFailure("cluster did not stabilize in \(roundsMax) rounds")
    }

    func isolate(_ id: NodeID) {
        for other in ids where other != id {
            cutLinks.insert([id, other])
            cutLinks.insert([other, id])
        }
    }

    func heal() { cutLinks = [] }

    /// Makes a fresh cluster of voters `1...count` with an empty log.
    static func voters(_ count: Int, seed: UInt64 = 1, configure: (inout Config) -> Void = { _ in }) -> Cluster {
        let cluster = Cluster(seed: seed)
        let voters = (1...UInt64(count)).map { NodeID($0) }
        for id in voters {
            cluster.addNode(id, snapshot: Snapshot(metadata: SnapshotMetadata(confState: ConfState(voters: voters))), configure: configure)
        }
        return cluster
    }
}

/// Text forms of raft values for logs and golden files.
enum Format {
    static func entries(_ entries: [Entry]) -> String {
        "[" + entries.map(\.description).joined(separator: ", ") + "]"
    }

    static func message(_ m: Message) -> String {
        var s = "\(m.from)->\(m.to) \(m.type.rawValue) Term:\(m.term)"
        switch m.type {
        case .append:
            s += " Log:\(m.logTerm)/\(m.index) Commit:\(m.commit)"
            if !m.entries.isEmpty { s += " Entries:\(entries(m.entries))" }
        case .appendResponse:
            s += " Index:\(m.index)"
            if m.reject { s += " Rejected (Hint: \(m.rejectHintIndex)/\(m.rejectHintTerm))" }
        case .vote, .preVote:
            s += " Log:\(m.logTerm)/\(m.index)"
        case .voteResponse, .preVoteResponse:
            if m.reject { s += " Rejected" }
        case .heartbeat:
            s += " Commit:\(m.commit)"
        case .snapshot:
            if let snap = m.snapshot { s += " Snapshot: Index:\(snap.metadata.index) Term:\(snap.metadata.term) \(snap.metadata.confState)" }
        case .readIndexResponse:
            s += " Index:\(m.index)"
        case .propose:
            s += " Entries:\(entries(m.entries))"
        default:
            break
        }
        if !m.context.isEmpty { s += " Context:\(String(decoding: m.context, as: UTF8.self))" }
        return s
    }

    static func ready(_ rd: Ready, of id: NodeID) -> String {
        var lines = ["> \(id) handling Ready"]
        if let soft = rd.softState { lines.append("  Lead:\(soft.leader) State:\(soft.role.rawValue)") }
        if let hard = rd.hardState { lines.append("  HardState Term:\(hard.term) Vote:\(hard.vote) Commit:\(hard.commit)") }
        if !rd.entries.isEmpty { lines.append("  Entries: \(entries(rd.entries))") }
        if let snap = rd.snapshot { lines.append("  Snapshot: Index:\(snap.metadata.index) Term:\(snap.metadata.term) \(snap.metadata.confState)") }
        if !rd.committedEntries.isEmpty { lines.append("  CommittedEntries: \(entries(rd.committedEntries))") }
        for m in rd.messages { lines.append("  Messages: \(message(m))") }
        for m in rd.messagesAfterPersist { lines.append("  MessagesAfterPersist: \(message(m))") }
        for r in rd.readStates { lines.append("  ReadState: Index:\(r.index) Context:\(String(decoding: r.context, as: UTF8.self))") }
        return lines.joined(separator: "\n")
    }
}

extension LogIndex: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: UInt64) { self.init(value) }
}

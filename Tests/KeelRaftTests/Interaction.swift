@testable import KeelRaft

/// Runs the commands of a golden script against a ``Cluster`` and returns each command's
/// output. The script language:
///
///     add-nodes <n> voters=(1,2,3) [learners=(4)] [index=<i>] [prevote=false] [checkquorum=false]
///     campaign <id> | propose <id> <data> | propose-conf-change <id> add=|remove=|learner=<id>
///     process-ready <id>... | deliver-msgs <id>... | drop-msgs <id>... | stabilize [<id>...]
///     tick-election <id>... | tick-heartbeat <id>... | partition <id> | cut <a> <b> | heal
///     transfer-leader <from> <to> | read-index <id> <context> | compact <id> <index>
///     report-unreachable <leader> <id> | raft-state | raft-log <id> | status <id> | log-level none|info
struct Interaction {
    let cluster = Cluster()

    mutating func run(_ line: String) -> String {
        cluster.output = []
        let words = line.split(separator: " ").map(String.init)
        let args = Array(words.dropFirst())
        let ids = args.compactMap { UInt64($0) }.map { NodeID($0) }
        switch words[0] {
        case "add-nodes": addNodes(args)
        case "campaign": for id in ids { cluster.node(id).campaign() }
        case "propose":
            report(cluster.node(ids[0]).propose(Array(args[1].utf8)))
        case "propose-conf-change": proposeConfChange(args)
        case "process-ready": for id in ids { cluster.processReady(id) }
        case "deliver-msgs": for id in ids { cluster.deliver(to: id) }
        case "drop-msgs":
            for id in ids {
                for m in cluster.inbox[id] ?? [] { cluster.emit("dropped: \(Format.message(m))") }
                cluster.inbox[id] = []
            }
        case "stabilize": cluster.stabilize(ids.isEmpty ? nil : ids)
        case "tick-election": for id in ids { tickElection(id) }
        case "tick-heartbeat":
            for id in ids {
                for _ in 0..<cluster.node(id).raft.config.heartbeatIntervalTicks { cluster.node(id).tick() }
            }
        case "partition": cluster.isolate(ids[0])
        case "cut":
            cluster.cutLinks.insert([ids[0], ids[1]])
            cluster.cutLinks.insert([ids[1], ids[0]])
        case "heal": cluster.heal()
        case "transfer-leader": cluster.node(ids[0]).transferLeader(to: ids[1])
        case "read-index": report(cluster.node(ids[0]).readIndex(context: Array(args[1].utf8)))
        case "compact": compact(ids[0], LogIndex(ids[1].rawValue))
        case "report-unreachable": cluster.node(ids[0]).reportUnreachable(ids[1])
        case "raft-state": raftState()
        case "raft-log": raftLog(ids[0])
        case "status": status(ids[0])
        case "log-level": cluster.logEnabled = args[0] != "none"
        case "report-snapshot":
            cluster.node(ids[0]).reportSnapshot(ids[1], status: args[2] == "ok" ? .finished : .failed)
        default: preconditionFailure("unknown command \(words[0])")
        }
        return cluster.output.isEmpty ? "ok" : cluster.output.joined(separator: "\n")
    }

    private func report(_ result: Result<Void, RaftRefusal>) {
        if let refusal = result.refusal { cluster.show("refused: \(refusal)") }
    }

    private func list(_ value: String) -> [NodeID] {
        value.trimmingPrefix("(").split(whereSeparator: { $0 == "," || $0 == ")" }).compactMap { UInt64($0) }.map { NodeID($0) }
    }

    private func addNodes(_ args: [String]) {
        var voters: [NodeID] = [], learners: [NodeID] = []
        var index = LogIndex.zero
        var preVote = true, checkQuorum = true
        for arg in args.dropFirst() {
            let kv = arg.split(separator: "=", maxSplits: 1).map(String.init)
            switch kv[0] {
            case "voters": voters = list(kv[1])
            case "learners": learners = list(kv[1])
            case "index": index = LogIndex(UInt64(kv[1])!)
            case "prevote": preVote = kv[1] == "true"
            case "checkquorum": checkQuorum = kv[1] == "true"
            default: preconditionFailure("unknown add-nodes argument \(arg)")
            }
        }
        let confState = ConfState(voters: voters, learners: learners)
        let first = (cluster.ids.last?.rawValue ?? 0) + 1
        for raw in first..<(first + UInt64(args[0])!) {
            let snapshot = index == .zero
                ? Snapshot(metadata: SnapshotMetadata(confState: confState))
                : Snapshot(metadata: SnapshotMetadata(index: index, term: Term(1), confState: confState))
            cluster.addNode(NodeID(raw), snapshot: snapshot) { config in
                config.preVote = preVote
                config.checkQuorum = checkQuorum
            }
        }
    }

    private func proposeConfChange(_ args: [String]) {
        let kv = args[1].split(separator: "=").map(String.init)
        let kind: ConfChange.Kind = switch kv[0] {
        case "add": .addNode
        case "remove": .removeNode
        case "learner": .addLearnerNode
        default: preconditionFailure("unknown conf change \(kv[0])")
        }
        let change = ConfChange(kind: kind, nodeID: NodeID(UInt64(kv[1])!))
        report(cluster.node(NodeID(UInt64(args[0])!)).proposeConfChange(change))
    }

    /// Ticks until the node's election timeout (or a leader's check-quorum round) fires.
    private func tickElection(_ id: NodeID) {
        let raft = cluster.node(id).raft
        let timeout = raft.role == .leader ? raft.config.electionTimeoutTicks : raft.randomizedElectionTimeout
        for _ in 0..<max(1, timeout - raft.electionElapsed) { cluster.node(id).tick() }
    }

    private func compact(_ id: NodeID, _ index: LogIndex) {
        let member = cluster.members[id]!
        member.storage.createSnapshot(at: index, confState: member.confState, data: Array("snap@\(index)".utf8))
        raftLog(id)
    }

    private func raftState() {
        for id in cluster.ids {
            let r = cluster.node(id).raft
            let kind = r.tracker.isVoter(id) ? "Voter" : r.isLearner ? "Learner" : "Non-member"
            cluster.show("\(id): \(r.role.rawValue) (\(kind)) Term:\(r.term) Lead:\(r.lead)")
        }
    }

    private func raftLog(_ id: NodeID) {
        let storage = cluster.members[id]!.storage
        if storage.firstIndex > storage.lastIndex {
            cluster.show("log is empty: first index=\(storage.firstIndex), last index=\(storage.lastIndex)")
            return
        }
        let entries = try! storage.entries(from: storage.firstIndex, to: storage.lastIndex.next, bytesMax: .max).get()
        for entry in entries { cluster.show(entry.description) }
    }

    private func status(_ id: NodeID) {
        let status = cluster.node(id).status
        for member in status.progress.keys.sorted() {
            let pr = status.progress[member]!
            var line = "\(member): \(pr.state.rawValue) match=\(pr.match) next=\(pr.next)"
            if pr.isLearner { line += " learner" }
            if pr.isPaused { line += " paused" }
            if pr.pendingSnapshot > .zero { line += " pendingSnap=\(pr.pendingSnapshot)" }
            if pr.inflights.count > 0 { line += " inflight=\(pr.inflights.count)" }
            cluster.show(line)
        }
    }
}

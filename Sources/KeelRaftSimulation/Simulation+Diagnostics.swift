import KeelRaft

extension Simulation {
    /// A notable event (phase, crash, election, conf change): traced when tracing.
    func log(_ line: @autoclosure () -> String) {
        guard let trace else { return }
        trace("[\(currentTick).\(now % options.microticksPerTick) #\(step)] " + line())
    }

    /// A step-level event (every delivery, proposal, read): traced when tracing.
    func traceLine(_ line: @autoclosure () -> String) {
        guard let trace else { return }
        trace("[\(currentTick).\(now % options.microticksPerTick) #\(step)]   " + line())
    }

    func describe(_ message: Message) -> String {
        var text = "\(message.type.rawValue) t\(message.term)"
        switch message.type {
        case .append:
            text += " prev \(message.logTerm)/\(message.index) +\(message.entries.count) commit \(message.commit)"
        case .appendResponse:
            text += message.reject ? " reject \(message.index) hint \(message.rejectHintTerm)/\(message.rejectHintIndex)" : " match \(message.index)"
        case .vote, .preVote:
            text += " last \(message.logTerm)/\(message.index)"
        case .voteResponse, .preVoteResponse:
            text += message.reject ? " rejected" : " granted"
        case .snapshot:
            text += " at \(message.snapshot.map { "\($0.metadata.term)/\($0.metadata.index)" } ?? "?")"
        case .heartbeat:
            text += " commit \(message.commit)"
        case .readIndexResponse:
            text += " index \(message.index)"
        case .propose:
            text += " +\(message.entries.count)"
        default:
            break
        }
        return text
    }

    /// One line per node: what a liveness failure reports.
    var clusterSummary: String {
        nodes.map { node in
            let status = node.isUp ? "\(node.role.rawValue) t\(node.term)" : "down"
            return "node \(node.slot): \(status) commit \(node.commit) applied \(node.appliedIndex) last \(node.disk.lastIndex) \(node.confState)"
        }.joined(separator: "; ")
    }

    /// Whether a marker proposal is applied on every member of the newest configuration (as
    /// the node that applied the most sees it).
    func livenessReached() -> Bool {
        guard let markerIndex else { return false }
        var newest = 0
        for slot in nodes.indices where nodes[slot].appliedIndex > nodes[newest].appliedIndex { newest = slot }
        let conf = nodes[newest].confState
        for id in conf.voters + conf.learners {
            let node = nodes[SimulatedNode.slot(of: id)]
            guard node.isUp, node.appliedIndex >= markerIndex else { return false }
        }
        return true
    }

    /// At the end of a run, log matching checked directly on every pair of durable logs: where
    /// two logs hold an entry of the same term at the same index, they hold the same entries
    /// at every index both still hold up to there. (The checker proved it incrementally; this
    /// checks the same property by other means.)
    func checkLogsPairwise() throws(SimulationFailure) {
        for a in nodes.indices {
            for b in nodes.indices where b > a {
                let left = nodes[a].disk
                let right = nodes[b].disk
                let low = max(left.snapshotIndex, right.snapshotIndex).next
                let high = min(left.lastIndex, right.lastIndex)
                guard low <= high else { continue }
                var matchTop: LogIndex?
                var index = high
                while index >= low {
                    if left.term(at: index) == right.term(at: index) { matchTop = index; break }
                    index = index.previous
                }
                guard let matchTop else { continue }
                for index in low...matchTop {
                    let x = left.entries[Int(index.rawValue - left.snapshotIndex.rawValue - 1)]
                    let y = right.entries[Int(index.rawValue - right.snapshotIndex.rawValue - 1)]
                    guard x == y else {
                        throw failure(.safety(SafetyViolation(.logMatching, "nodes \(a) and \(b) agree at \(left.term(at: matchTop)!)/\(matchTop) but differ at \(index): \(x) vs \(y)")))
                    }
                }
            }
        }
    }
}

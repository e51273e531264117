import Testing
@testable import KeelRaft

/// Random runs over a lossy, reordering network with partitions and compaction: no two nodes
/// apply different entries at one index, no term has two leaders, and once the network heals
/// every node catches up. A failure names its seed; `run(seed:)` replays it.
@Suite struct SafetyTests {
    @Test(arguments: Array(UInt64(1)...24))
    func randomRun(seed: UInt64) {
        run(seed: seed, steps: 1000)
    }

    func run(seed: UInt64, steps: Int) {
        var rng = SeededGenerator(seed: seed)
        let size = [3, 5][Int(seed % 2)]
        let cluster = Cluster.voters(size, seed: seed) { config in
            config.inflightMessagesMax = 4
            config.appendBytesMax = 200
            // Ticks land on random nodes, so a leader ticks (and heartbeats) only 1/size of the
            // time: a longer timeout lets leaders last long enough to commit.
            config.electionTimeoutTicks = 10
        }
        cluster.logEnabled = false
        var leaders: [Term: NodeID] = [:]
        var proposed = 0
        for step in 0..<steps {
            let id = NodeID(UInt64.random(in: 1...UInt64(size), using: &rng))
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<30: cluster.node(id).tick()
            case 30..<45:
                proposed += 1
                _ = cluster.node(id).propose(Array("s\(seed)-\(proposed)".utf8))
            case 45..<50:
                let member = cluster.members[id]!
                if member.appliedIndex > member.storage.firstIndex {
                    member.storage.createSnapshot(at: member.appliedIndex, confState: member.confState, data: [])
                }
            case 50..<53: cluster.isolate(id)
            case 53..<57: cluster.heal()
            case 57..<60: _ = cluster.node(id).readIndex(context: Array("r\(step)".utf8))
            default:
                cluster.processReady(id)
                deliverShuffled(cluster, to: id, drop: 0.1, rng: &rng)
            }
            for other in cluster.ids where cluster.node(other).isLeader {
                let term = cluster.node(other).term
                if let earlier = leaders[term], earlier != other {
                    Issue.record("seed \(seed) step \(step): term \(term) has leaders \(earlier) and \(other)")
                }
                leaders[term] = other
            }
            if !cluster.violations.isEmpty {
                Issue.record("seed \(seed) step \(step): \(cluster.violations)")
                return
            }
        }
        // Liveness once healed: a leader emerges and everyone applies the same log.
        cluster.heal()
        for _ in 0..<60 {
            for id in cluster.ids { cluster.node(id).tick() }
            cluster.stabilize()
        }
        #expect(cluster.ids.filter { cluster.node($0).isLeader }.count == 1, "seed \(seed): one leader after healing")
        let applied = Set(cluster.ids.map { cluster.members[$0]!.appliedIndex })
        if applied.count > 1 {
            for id in cluster.ids {
                let st = cluster.node(id).status
                print("DBG seed \(seed) \(id) applied=\(cluster.members[id]!.appliedIndex) \(st.hardState) \(st.softState) last=\(st.lastIndex) first=\(st.firstIndex) \(st.progress.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.state) m\($0.value.match) n\($0.value.next) ps\($0.value.pendingSnapshot) paused\($0.value.isPaused) act\($0.value.recentActive)" })")
            }
        }
        #expect(applied.count == 1, "seed \(seed): applied indexes \(applied)")
        #expect((applied.first ?? .zero) > LogIndex(0), "seed \(seed): nothing committed")
        #expect(cluster.violations.isEmpty, "seed \(seed): \(cluster.violations)")
    }

    func deliverShuffled(_ cluster: Cluster, to id: NodeID, drop: Double, rng: inout SeededGenerator) {
        var queued = cluster.inbox[id] ?? []
        cluster.inbox[id] = []
        queued.shuffle(using: &rng)
        for m in queued {
            if Double.random(in: 0..<1, using: &rng) < drop {
                cluster.lost(m)
            } else {
                _ = cluster.node(id).step(m)
                cluster.delivered(m)
            }
        }
    }
}

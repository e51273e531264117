import Testing
@testable import KeelRaft

/// Every queue has a limit, and a request past it is refused with a value, never lost.
@Suite struct LimitsTests {
    func electedCluster(_ configure: @escaping (inout Config) -> Void = { _ in }) -> Cluster {
        let cluster = Cluster.voters(3, configure: configure)
        cluster.logEnabled = false
        cluster.node(NodeID(1)).campaign()
        cluster.stabilize()
        #expect(cluster.node(NodeID(1)).isLeader)
        return cluster
    }

    @Test func uncommittedBytesLimitRefusesProposals() {
        let cluster = electedCluster { $0.uncommittedEntriesBytesMax = 100 }
        let leader = cluster.node(NodeID(1))
        cluster.isolate(NodeID(1))
        #expect(leader.propose([UInt8](repeating: 1, count: 60)).refusal == nil)
        #expect(leader.propose([UInt8](repeating: 2, count: 60)).refusal == .proposalDropped(reason: "uncommittedEntriesBytesMax reached"))
        cluster.stabilize()
        cluster.heal()
        for _ in 0..<3 { leader.tick() }
        cluster.stabilize()
        #expect(leader.propose([UInt8](repeating: 3, count: 60)).refusal == nil, "committed entries free the budget")
    }

    @Test func proposalsPerReadyLimit() {
        let cluster = electedCluster { $0.proposalsPerReadyMax = 2 }
        let leader = cluster.node(NodeID(1))
        #expect(leader.propose([1]).refusal == nil)
        #expect(leader.propose([2]).refusal == nil)
        #expect(leader.propose([3]).refusal == .proposalDropped(reason: "proposalsPerReadyMax reached"))
        cluster.processReady(NodeID(1))
        #expect(leader.propose([3]).refusal == nil)
    }

    @Test func readIndexQueueLimit() {
        let cluster = electedCluster { $0.readIndexQueueMax = 1 }
        cluster.isolate(NodeID(1))
        #expect(cluster.node(NodeID(1)).readIndex(context: [1]).refusal == nil)
        #expect(cluster.node(NodeID(1)).readIndex(context: [2]).refusal == .readIndexDropped)
    }

    @Test func proposalsTogetherGoOutAsOneAppend() {
        let cluster = electedCluster()
        let leader = cluster.node(NodeID(1))
        for i in 0..<5 { #expect(leader.propose([UInt8(i)]).refusal == nil) }
        let rd = leader.ready()
        let appends = rd.messages.filter { $0.type == .append && $0.to == NodeID(2) }
        #expect(appends.count == 1)
        #expect(appends.first?.entries.count == 5)
        cluster.members[NodeID(1)]!.storage.append(rd.entries)
        leader.advance(rd)
    }

    @Test func pipeliningStopsAtTheInflightWindow() {
        // 40-byte entries and a 50-byte message limit: one entry per append.
        let cluster = electedCluster {
            $0.inflightMessagesMax = 3
            $0.appendBytesMax = 50
        }
        let leader = cluster.node(NodeID(1))
        for i in 0..<6 { #expect(leader.propose([UInt8](repeating: UInt8(i), count: 23)).refusal == nil) }
        let rd = leader.ready()
        let appends = rd.messages.filter { $0.type == .append && $0.to == NodeID(2) }
        #expect(appends.count == 3, "three appends in flight without waiting for an answer")
        #expect(appends.allSatisfy { $0.entries.count == 1 })
        #expect(leader.status.progress[NodeID(2)]!.isPaused)
        cluster.members[NodeID(1)]!.storage.append(rd.entries)
        leader.advance(rd)
        cluster.send(Message(type: .appendResponse, to: NodeID(1), from: NodeID(2), term: leader.term, index: appends[0].entries[0].index))
        cluster.deliver(to: NodeID(1))
        let next = leader.ready()
        #expect(next.messages.filter { $0.type == .append && $0.to == NodeID(2) }.count == 1, "one acknowledgement frees one slot")
        leader.advance(next)
    }

    @Test func messageQueueLimitDropsAndCounts() {
        let cluster = electedCluster { $0.messagesPerReadyMax = 3 }
        let leader = cluster.node(NodeID(1))
        for _ in 0..<3 { leader.tick() }
        #expect(leader.droppedMessageCount > 0)
        _ = leader.ready()
    }

    @Test func stepRefusals() {
        let cluster = electedCluster()
        let leader = cluster.node(NodeID(1))
        #expect(leader.step(Message(type: .hup, to: NodeID(1), from: NodeID(2))).refusal == .stepLocalMessage(.hup))
        let stranger = Message(type: .appendResponse, to: NodeID(1), from: NodeID(9), term: leader.term, index: LogIndex(1))
        #expect(leader.step(stranger).refusal == .peerNotFound(NodeID(9)))
        #expect(leader.proposeConfChange(ConfChange(kind: .removeNode, nodeID: NodeID(7))).refusal != nil)
    }

    @Test func followerWithoutLeaderRefusesProposals() {
        let cluster = Cluster.voters(3)
        cluster.logEnabled = false
        #expect(cluster.node(NodeID(2)).propose([1]).refusal == .proposalDropped(reason: "no leader"))
    }
}

import KeelRaft
import KeelTestSupport
import NIOPosix
import Testing
@testable import KeelServer

/// The fault switch: a partition drops traffic with the given members both ways; healing
/// restores it.
@Suite struct PeerPartitionTests {
    @Test func aPartitionDropsBothWaysAndHealingRestoresFlow() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let ports: [UInt64: Int] = [1: freeLoopbackPort(), 2: freeLoopbackPort(), 3: freeLoopbackPort()]
        let members = try [1, 2, 3].map { (id: UInt64) in
            try PeerTestMember(id: id, port: ports[id]!, peers: ports.filter { $0.key != id }, group: group).start()
        }
        defer { for member in members { member.transport.stop() } }
        let (one, two, three) = (members[0], members[1], members[2])
        #expect(eventually { members.allSatisfy { member in [1, 2, 3].allSatisfy { NodeID($0) == member.id || member.transport.isConnected(to: NodeID($0)) } } })

        // Member 1 cuts itself off from member 3 only.
        one.transport.partition(from: [NodeID(3)])
        one.transport.send((1...10).map { peerMessage(from: 1, to: 3, index: $0) } + (1...10).map { peerMessage(from: 1, to: 2, index: $0) })
        three.transport.send((1...10).map { peerMessage(.heartbeatResponse, from: 3, to: 1, index: $0) })
        two.transport.send((1...10).map { peerMessage(.heartbeatResponse, from: 2, to: 1, index: $0) })
        #expect(eventually { one.transport.counters.messagesDroppedInbound.load(ordering: .relaxed) == 10 && one.received.count == 10 })
        #expect(eventually { two.received.count == 10 })
        #expect(one.transport.counters.messagesDropped.load(ordering: .relaxed) == 10)
        #expect(one.received.allSatisfy { $0.from == NodeID(2) }, "nothing from 3 gets in")
        #expect(three.received(from: 1).isEmpty, "nothing to 3 gets out")
        // A snapshot counts as traffic too.
        one.transport.send([PeerSnapshotTests.snapshotMessage(bytes: 100, seed: 3).with(to: 3)])
        #expect(one.record.reports.withLock { $0.contains(.snapshot(NodeID(3), .failed)) })

        one.transport.heal()
        one.transport.send((11...20).map { peerMessage(from: 1, to: 3, index: $0) })
        three.transport.send((11...20).map { peerMessage(.heartbeatResponse, from: 3, to: 1, index: $0) })
        #expect(eventually { three.received(from: 1).count == 10 && one.received(from: 3).count == 10 })
        #expect(three.received(from: 1).map(\.index.rawValue) == Array(11...20))
        #expect(one.received(from: 3).map(\.index.rawValue) == Array(11...20))
    }

    @Test func aPartitionedSnapshotIsNotAcknowledged() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (one, two) = try PeerTestMember.startPair(group: group)
        defer { one.transport.stop(); two.transport.stop() }
        // The receiving side is the one cut off: the snapshot travels, is dropped on arrival,
        // and the sender learns it failed.
        two.transport.partition(from: [NodeID(1)])
        one.transport.send([PeerSnapshotTests.snapshotMessage(bytes: 300_000, seed: 4)])
        #expect(eventually { one.record.reports.withLock { $0.contains(.snapshot(NodeID(2), .failed)) } })
        #expect(two.received.isEmpty)
        #expect(two.transport.counters.messagesDroppedInbound.load(ordering: .relaxed) == 1)
    }
}

extension KeelRaft.Message {
    func with(to member: UInt64) -> KeelRaft.Message {
        var copy = self
        copy.to = NodeID(member)
        return copy
    }
}

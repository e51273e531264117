import KeelRaft
import KeelTestSupport
#if canImport(Glibc)
import Glibc
#endif
import NIOPosix
import Synchronization
import Testing
@testable import KeelServer

/// Members on loopback exchanging raft messages: order per peer, coalescing, bounded queues,
/// reconnection after a restart.
@Suite struct PeerTransportTests {
    @Test func twoMembersExchangeThousandsOfMessagesInOrder() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (port1, port2) = (freeLoopbackPort(), freeLoopbackPort())
        let one = try PeerTestMember(id: 1, port: port1, peers: [2: port2], group: group) { $0.queueMessagesMax = 100_000 }.start()
        let two = try PeerTestMember(id: 2, port: port2, peers: [1: port1], group: group) { $0.queueMessagesMax = 100_000 }.start()
        defer { one.transport.stop(); two.transport.stop() }
        // A connect attempt that fails (the other member was not listening yet) drops what was
        // queued: wait for both connections so that nothing is lost.
        #expect(eventually { one.transport.isConnected(to: NodeID(2)) && two.transport.isConnected(to: NodeID(1)) })
        let count: UInt64 = 5000
        // Batches of varying size, both directions at once, from the test thread: what a raft
        // loop does with each Ready's messages.
        var next: UInt64 = 1
        while next <= count {
            let end = min(count, next + next % 37)
            one.transport.send((next...end).map { peerMessage(from: 1, to: 2, index: $0, data: [UInt8(truncatingIfNeeded: $0)]) })
            two.transport.send((next...end).map { peerMessage(.heartbeat, from: 2, to: 1, index: $0) })
            next = end + 1
        }
        #expect(eventually { two.received.count == Int(count) && one.received.count == Int(count) })
        #expect(two.received.map(\.index.rawValue) == Array(1...count))
        #expect(two.received.allSatisfy { $0.entries.first?.data == [UInt8(truncatingIfNeeded: $0.index.rawValue)] })
        #expect(one.received.map(\.index.rawValue) == Array(1...count))
        #expect(one.transport.counters.messagesSent.load(ordering: .relaxed) == count)
        #expect(one.transport.counters.messagesDropped.load(ordering: .relaxed) == 0)
        #expect(two.transport.counters.messagesReceived.load(ordering: .relaxed) == count)
        #expect(one.transport.isConnected(to: NodeID(2)) && two.transport.isConnected(to: NodeID(1)))
        #expect(one.transport.counters.reconnects.load(ordering: .relaxed) == 0)
    }

    @Test func threeMembersAllToAll() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let ports: [UInt64: Int] = [1: freeLoopbackPort(), 2: freeLoopbackPort(), 3: freeLoopbackPort()]
        let members = try [1, 2, 3].map { (id: UInt64) in
            try PeerTestMember(id: id, port: ports[id]!, peers: ports.filter { $0.key != id }, group: group) { $0.queueMessagesMax = 100_000 }.start()
        }
        defer { for member in members { member.transport.stop() } }
        #expect(eventually { members.allSatisfy { member in member.transport.peers.allSatisfy { member.transport.isConnected(to: $0) } } })
        let count: UInt64 = 2000
        for batch in stride(from: UInt64(1), through: count, by: 50) {
            for member in members {
                for peer in [UInt64(1), 2, 3] where NodeID(peer) != member.id {
                    member.transport.send((batch..<batch + 50).map { peerMessage(from: member.id.rawValue, to: peer, index: $0) })
                }
            }
        }
        #expect(eventually { members.allSatisfy { $0.received.count == 2 * Int(count) } })
        for member in members {
            for peer in [UInt64(1), 2, 3] where NodeID(peer) != member.id {
                #expect(member.received(from: peer).map(\.index.rawValue) == Array(1...count), "\(peer) → \(member.id)")
            }
        }
    }

    /// Everything queued while the event loop was busy goes out in one write.
    @Test func messagesQueuedMeanwhileAreCoalescedIntoOneWrite() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let (one, two) = try PeerTestMember.startPair(group: group)
        defer { one.transport.stop(); two.transport.stop() }
        #expect(eventually { one.transport.isConnected(to: NodeID(2)) })
        let writesBefore = one.transport.counters.writes.load(ordering: .relaxed)
        // Hold the only event loop while 500 sends of one message each are queued.
        let gate = Mutex(false)
        group.next().execute { while !gate.withLock({ $0 }) { usleep(1000) } }
        for index in UInt64(1)...500 { one.transport.send([peerMessage(from: 1, to: 2, index: index)]) }
        gate.withLock { $0 = true }
        #expect(eventually { two.received.count == 500 })
        #expect(two.received.map(\.index.rawValue) == Array(1...500))
        #expect(one.transport.counters.writes.load(ordering: .relaxed) - writesBefore == 1)
    }

    @Test func aFullQueueDropsAndCountsAndRaftIsToldTheyAreUnreachable() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        // Nobody listens on the peer's port: the queue only fills, then the failed connect
        // empties it.
        let one = try PeerTestMember(id: 1, port: freeLoopbackPort(), peers: [2: freeLoopbackPort()], group: group) {
            $0.queueMessagesMax = 4
            $0.backoffInitialMilliseconds = 300
            $0.backoffMaxMilliseconds = 300
        }.start()
        defer { one.transport.stop() }
        one.transport.send((1...10).map { peerMessage(from: 1, to: 2, index: $0) })
        #expect(one.transport.counters.messagesDropped.load(ordering: .relaxed) >= 6)
        #expect(eventually { one.transport.counters.messagesDropped.load(ordering: .relaxed) == 10 })
        #expect(one.record.reports.withLock { $0.contains(.unreachable(NodeID(2))) })
        #expect(eventually { one.logLine("failed to connect to remote peer")?["remote-peer-id"] == "2" })
        // A message to a member that is not a peer is dropped too.
        one.transport.send([peerMessage(from: 1, to: 3, index: 1)])
        #expect(one.transport.counters.messagesDropped.load(ordering: .relaxed) == 11)
    }

    @Test func aRestartedPeerIsReconnectedAndMessagesFlowAgain() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (port1, port2) = (freeLoopbackPort(), freeLoopbackPort())
        // A cluster id of its own: while member 2 is down its port is free, and a member 2 of
        // another test (the common cluster id, the same member ids) that took it would be
        // reached and accepted in its place.
        let cluster: UInt64 = 0xC1_7E57
        let one = try PeerTestMember(id: 1, clusterID: cluster, port: port1, peers: [2: port2], group: group).start()
        defer { one.transport.stop() }
        var two = try PeerTestMember(id: 2, clusterID: cluster, port: port2, peers: [1: port1], group: group).start()
        #expect(eventually { one.transport.isConnected(to: NodeID(2)) })
        one.transport.send((1...100).map { peerMessage(from: 1, to: 2, index: $0) })
        #expect(eventually { two.received.count == 100 })
        two.transport.stop()
        #expect(eventually { !one.transport.isConnected(to: NodeID(2)) })
        #expect(eventually { one.record.reports.withLock { $0.contains(.unreachable(NodeID(2))) } })
        #expect(eventually { one.logLine("lost TCP streaming connection with remote peer")?["remote-peer-id"] == "2" })
        two = try PeerTestMember(id: 2, clusterID: cluster, port: port2, peers: [1: port1], group: group).start()
        defer { two.transport.stop() }
        #expect(eventually { one.transport.isConnected(to: NodeID(2)) })
        one.transport.send((101...200).map { peerMessage(from: 1, to: 2, index: $0) })
        two.transport.send((1...10).map { peerMessage(.heartbeatResponse, from: 2, to: 1, index: $0) })
        #expect(eventually { two.received.count == 100 && one.received.count == 10 })
        #expect(two.received.map(\.index.rawValue) == Array(101...200))
        #expect(one.transport.counters.reconnects.load(ordering: .relaxed) >= 1)
    }

    @Test func peerURLsGiveAddresses() {
        #expect(PeerAddress(url: "http://127.0.0.1:2380") == PeerAddress(host: "127.0.0.1", port: 2380))
        #expect(PeerAddress(url: "http://[::1]:12380") == PeerAddress(host: "::1", port: 12380))
        #expect(PeerAddress(url: "http://[::1]:12380")?.description == "[::1]:12380")
        #expect(PeerAddress(url: "https://10.0.0.1:2380") == nil, "TLS is not spoken yet")
        #expect(PeerAddress(url: "unix://peer.sock") == nil)
        #expect(PeerAddress(url: "10.0.0.1:2380") == nil)
    }

    @Test func backoffDoublesToItsCeilingWithSeededJitter() {
        var first = PeerBackoff(initialMilliseconds: 50, maxMilliseconds: 2000, seed: 42)
        var second = PeerBackoff(initialMilliseconds: 50, maxMilliseconds: 2000, seed: 42)
        let delays = (0..<10).map { _ in first.nextDelayMilliseconds() }
        #expect(delays == (0..<10).map { _ in second.nextDelayMilliseconds() }, "a seed replays the same delays")
        for (attempt, delay) in delays.enumerated() {
            let base = min(2000, Int64(50) << Int64(attempt))
            #expect(delay >= base - base / 4 && delay <= base, "attempt \(attempt): \(delay) ms")
        }
        first.reset()
        #expect(first.nextDelayMilliseconds() <= 50)
    }
}

import KeelRaft
import KeelTestSupport
import NIOPosix
import Synchronization
import Testing
@testable import KeelServer

/// Snapshots travel on their own connection, in chunks, while heartbeats keep flowing; every
/// snapshot message gets exactly one report.
@Suite struct PeerSnapshotTests {
    static func snapshotMessage(bytes: Int, seed: UInt64) -> KeelRaft.Message {
        var random = KeelRaft.SeededGenerator(seed: seed)
        var data = [UInt8](repeating: 0, count: bytes)
        for index in stride(from: 0, to: bytes, by: 8) {
            let word = random.next()
            for byte in 0..<min(8, bytes - index) { data[index + byte] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(byte))) }
        }
        let metadata = SnapshotMetadata(index: KeelRaft.LogIndex(5000), term: KeelRaft.Term(3),
                                        confState: ConfState(voters: [NodeID(1), NodeID(2)], learners: [NodeID(9)]))
        return KeelRaft.Message(type: .snapshot, to: NodeID(2), from: NodeID(1), term: KeelRaft.Term(3),
                                snapshot: Snapshot(metadata: metadata, data: data))
    }

    @Test func anEightMebibyteSnapshotArrivesWhileHeartbeatsFlow() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (one, two) = try PeerTestMember.startPair(group: group)
        defer { one.transport.stop(); two.transport.stop() }
        #expect(eventually { one.transport.isConnected(to: NodeID(2)) })
        let snapshot = Self.snapshotMessage(bytes: 8 << 20, seed: 8)
        one.transport.send([snapshot])
        // Heartbeats go out until the snapshot is in: the ones that arrive before it show it
        // did not hold them up.
        var sent: UInt64 = 0
        let arrived = eventually(seconds: 15) {
            sent += 1
            one.transport.send([peerMessage(.heartbeat, from: 1, to: 2, index: sent)])
            return two.received.contains { $0.type == .snapshot }
        }
        #expect(arrived)
        #expect(eventually { two.received.count == Int(sent) + 1 })
        let received = two.received
        let position = try #require(received.firstIndex { $0.type == .snapshot })
        // Compared outside #expect: a failure must not print 8 MiB of bytes.
        let intact = received[position] == snapshot
        #expect(intact, "the snapshot arrives intact")
        #expect(position > 0, "heartbeats were delivered while the snapshot was on its way")
        print("PeerSnapshotTests: \(position) of \(sent) heartbeats arrived before the 8 MiB snapshot")
        #expect(received.filter { $0.type == .heartbeat }.map(\.index.rawValue) == Array(1...sent))
        #expect(eventually { one.record.reports.withLock { $0.contains(.snapshot(NodeID(2), .finished)) } })
        #expect(one.transport.counters.snapshotsSent.load(ordering: .relaxed) == 1)
        #expect(two.transport.counters.snapshotsReceived.load(ordering: .relaxed) == 1)
        #expect(one.transport.counters.bytesSent.load(ordering: .relaxed) > 8 << 20)
    }

    @Test func aSnapshotThatCannotArriveIsReportedFailedOnce() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (port1, port2) = (freeLoopbackPort(), freeLoopbackPort())
        // The receiver accepts at most 1 MiB of snapshot: a 2 MiB one is cut off.
        let one = try PeerTestMember(id: 1, port: port1, peers: [2: port2], group: group).start()
        let two = try PeerTestMember(id: 2, port: port2, peers: [1: port1], group: group) { $0.snapshotBytesMax = 1 << 20 }.start()
        defer { one.transport.stop(); two.transport.stop() }
        one.transport.send([Self.snapshotMessage(bytes: 2 << 20, seed: 1)])
        #expect(eventually { one.record.reports.withLock { $0.contains(.snapshot(NodeID(2), .failed)) } })
        #expect(two.logLine("closed peer connection after a protocol error") != nil)
        // A second snapshot while none is in flight goes through; two at once: one is refused.
        let small = Self.snapshotMessage(bytes: 1000, seed: 2)
        one.transport.send([small, small])
        #expect(eventually { one.record.reports.withLock { $0.count(where: { $0 == .snapshot(NodeID(2), .finished) }) == 1 } })
        #expect(eventually { one.record.reports.withLock { $0.count(where: { $0 == .snapshot(NodeID(2), .failed) }) == 2 } })
        let onlySmall = two.received == [small]
        #expect(onlySmall)
        // A snapshot to a member that is not a peer is reported failed at once.
        var stray = small
        stray.to = NodeID(7)
        one.transport.send([stray])
        #expect(one.record.reports.withLock { $0.last } == .snapshot(NodeID(7), .failed))
    }
}

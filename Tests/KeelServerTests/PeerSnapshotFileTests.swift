import Foundation
import KeelRaft
import KeelTestSupport
import NIOPosix
import Testing
@testable import KeelServer

/// A snapshot streamed from a file on the sender into a file on the receiver (the members'
/// snap directories), never whole in memory.
@Suite struct PeerSnapshotFileTests {
    @Test func aSnapshotGoesFromFileToFileAndTheSendersFileIsRemoved() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let directory = TemporaryDirectory("keel-peer-snapshot-file")
        defer { directory.remove() }
        let (port1, port2) = (freeLoopbackPort(), freeLoopbackPort())
        let receiving = directory.child("two")
        try FileManager.default.createDirectory(atPath: receiving, withIntermediateDirectories: true)
        let one = try PeerTestMember(id: 1, port: port1, peers: [2: port2], group: group).start()
        let two = try PeerTestMember(id: 2, port: port2, peers: [1: port1], group: group) { $0.snapshotDirectory = receiving }.start()
        defer { one.transport.stop(); two.transport.stop() }
        #expect(eventually { one.transport.isConnected(to: NodeID(2)) })

        let withData = PeerSnapshotTests.snapshotMessage(bytes: (3 << 20) + 123, seed: 5)
        let source = directory.child("copy.db")
        try Data(withData.snapshot!.data).write(to: URL(fileURLWithPath: source))
        var announced = withData
        announced.snapshot!.data = []
        one.transport.sendSnapshot(announced, dataFile: source)

        #expect(eventually(seconds: 15) { two.received.contains { $0.type == .snapshot } })
        let received = try #require(two.received.first { $0.type == .snapshot })
        #expect(received.snapshot?.data.isEmpty == true, "the data went to the file, not the message")
        #expect(received.snapshot?.metadata == withData.snapshot!.metadata)
        let landed = SnapshotDatabaseFiles.path(withData.snapshot!.metadata.index, in: receiving) + ".tmp"
        let intact = (try? Data(contentsOf: URL(fileURLWithPath: landed))) == Data(withData.snapshot!.data)
        #expect(intact, "the file holds exactly the data sent")
        #expect(eventually { one.record.reports.withLock { $0.contains(.snapshot(NodeID(2), .finished)) } })
        #expect(eventually { !FileManager.default.fileExists(atPath: source) }, "the sender removes its copy once sent")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: receiving).filter { $0.contains(".part-") }
        #expect(leftovers.isEmpty)
    }
}

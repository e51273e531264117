import Foundation
import KeelAPI
import KeelMVCC
import KeelRaft
import KeelStorage
import KeelTestSupport
import KeelWAL
import NIOCore
import NIOPosix
import Testing
@testable import KeelServer

/// Crash safety of a snapshot install, against in-process nodes: the states a crash can leave
/// between saving the received database (`<index>.snap.db`), writing the WAL marker and
/// renaming the file over the backend, and what a restart makes of each.
@Suite struct SnapshotInstallRestartTests {
    enum Failure: Error { case notApplied(String) }

    static func options(_ directory: String) -> NodeOptions {
        var options = NodeOptions(dataDirectory: directory)
        options.walIO = .sync
        return options
    }

    static func start(_ directory: String) throws -> KeelNode {
        let node = try KeelNode.start(options(directory), logger: ServerLogger(minimumLevel: .error, sink: { _ in }))
        node.waitUntilServing()
        return node
    }

    static func put(_ node: KeelNode, _ key: String, on group: any EventLoopGroup) async throws {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data("v".utf8)
        let outcome = try await node.propose(.put(request), on: group.next()).get()
        guard case .put = outcome else { throw Failure.notApplied("\(outcome)") }
    }

    static func keys(_ node: KeelNode) -> [String] {
        guard case .success(let response) = node.keySpace.store.range(RangeRequest(key: [0], rangeEnd: [0])) else { return [] }
        return response.kvs.map { String(decoding: $0.key, as: UTF8.self) }
    }

    @Test func aRestartInstallsTheDatabaseOfAMarkerPastTheBackendAndIgnoresOneWithout() async throws {
        let directory = TemporaryDirectory("keel-snapshot-restart")
        defer { directory.remove() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        // The "leader": 30 keys. The "follower": one key of its own, fewer entries.
        let leaderDirectory = directory.child("leader"), followerDirectory = directory.child("follower")
        let leader = try Self.start(leaderDirectory)
        for i in 0..<30 { try await Self.put(leader, "k\(i)", on: group) }
        let leaderKeys = Self.keys(leader)
        leader.stop()
        let follower = try Self.start(followerDirectory)
        try await Self.put(follower, "mine", on: group)
        follower.stop()

        // The leader's database as a follower saves it, at the index it holds.
        let source = try Database.open(path: Self.options(leaderDirectory).backendPath)
        let read = source.beginRead()
        let held = KVStore.storedConsistentIndex(read)
        read.end()
        let options = Self.options(followerDirectory)
        let files = SnapshotDatabaseFiles(directory: options.snapDirectory, storage: source.storageOptions)
        let index = KeelRaft.LogIndex(held.index)
        let pristine = directory.child("copy.db")
        try source.writeCopy(to: pristine)
        source.close()
        try FileManager.default.copyItem(atPath: pristine, toPath: files.path(index))

        // A crash before the WAL marker: the restart keeps its own state and drops the file.
        let beforeMarker = try Self.start(followerDirectory)
        #expect(Self.keys(beforeMarker) == ["mine"])
        beforeMarker.stop()
        #expect(!files.exists(index))

        // A crash after the marker and before the rename: the restart installs the file.
        try FileManager.default.copyItem(atPath: pristine, toPath: files.path(index))
        try appendMarker(index: index, term: held.term, walDirectory: options.walPath)
        let afterMarker = try Self.start(followerDirectory)
        #expect(Self.keys(afterMarker) == leaderKeys)
        #expect(afterMarker.keySpace.store.consistentIndex.index >= held.index)
        #expect(!files.exists(index))
        try await Self.put(afterMarker, "later", on: group)
        afterMarker.stop()
        let again = try Self.start(followerDirectory)
        #expect(Self.keys(again) == (leaderKeys + ["later"]).sorted())
        again.stop()
    }

    /// What raft's log store writes when it persists a snapshot: the marker and a hard state
    /// committing through it.
    private func appendMarker(index: KeelRaft.LogIndex, term: UInt64, walDirectory: String) throws {
        let (wal, replay) = try WAL.open(directory: walDirectory, options: WALOptions())
        defer { _ = wal.close() }
        let hard = try #require(replay.hardState)
        try wal.appendAndWait([.snapshot(SnapshotMarker(index: KeelWAL.LogIndex(index.rawValue), term: KeelWAL.Term(term))),
                               .hardState(KeelWAL.HardState(term: KeelWAL.Term(max(hard.term.rawValue, term)), vote: hard.vote,
                                                            commit: KeelWAL.LogIndex(index.rawValue)))])
    }
}

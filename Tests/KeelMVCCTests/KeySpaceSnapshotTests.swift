#if canImport(Glibc)
import Glibc
#endif
import KeelStorage
import KeelTestSupport
import Testing
@testable import KeelMVCC

/// Installing a raft snapshot: a member's database is replaced by a copy of another member's
/// (`Database.replace(withFileAt:)`) and `KeySpace.databaseReplaced()` rebuilds everything
/// held in memory from it.
@Suite struct KeySpaceSnapshotTests {
    static let lease = LeaseID(7)

    /// The "leader": a lease with a key, a deleted key, a finished compaction at revision 4,
    /// then one more put. Revisions: 2 a (lease), 3 b, 4 c, 5 delete b, 6 d.
    static func leader() throws -> KeySpaceFixture {
        let leader = try KeySpaceFixture()
        _ = try leader.space.leaseGrant(lease, ttlSeconds: 100, nowNanoseconds: 0, applying: leader.next())
        try leader.put("a", lease: lease)
        try leader.put("b")
        try leader.put("c")
        _ = try leader.space.deleteRange(DeleteRangeRequest(key: bytes("b")), applying: leader.next())
        _ = try leader.space.compact(4, applying: leader.next())
        try leader.space.store.finishCompaction()
        try leader.put("d")
        try leader.space.store.flush()
        return leader
    }

    @Test func theReplacedKeySpaceIsTheLeadersInEveryRespect() throws {
        let leader = try Self.leader()
        let follower = try KeySpaceFixture()
        try follower.put("old")
        try follower.put("a")
        let synced = follower.space.watches.openStream {}
        _ = synced.create(WatchCreateRequest(key: [0], end: [0]))
        _ = synced.take(max: 10)
        let behind = follower.space.watches.openStream {}
        _ = behind.create(WatchCreateRequest(key: [0], end: [0], startRevision: 2))
        _ = behind.take(max: 10)

        let copy = follower.directory.child("snapshot.db")
        try leader.database.writeCopy(to: copy)
        try follower.space.store.flush()
        let replacementsBefore = follower.database.replacements
        try follower.database.replace(withFileAt: copy)
        #expect(follower.database.replacements == replacementsBefore + 1)
        #expect(try follower.space.databaseReplaced().isEmpty)
        follower.applied = follower.space.store.consistentIndex.index

        let store = follower.space.store
        #expect(store.currentRevision == 6 && store.compactRevision == 4)
        #expect(store.consistentIndex == leader.space.store.consistentIndex)
        #expect(follower.liveKeys() == ["a", "c", "d"])
        #expect(store.range(RangeRequest(key: bytes("a"), revision: 3)) == .failure(.compacted(compactRevision: 4)))
        #expect(try store.hashKV(0).get() == leader.space.store.hashKV(0).get())
        #expect(follower.space.lessor.leases() == [Self.lease])
        #expect(follower.keys(of: Self.lease) == ["a"])

        // Synced watchers catch up from the new history; those it compacted away end.
        follower.space.watches.syncUnsynced(eventsMax: 100)
        let caughtUp = synced.take(max: 10)
        #expect(caughtUp.map(\.kind) == [.events], "\(caughtUp)")
        #expect(caughtUp.first?.events.map(\.kv.modRevision) == [4, 5, 6])
        #expect(behind.take(max: 10).map(\.kind) == [.compacted(compactRevision: 4)])

        // Writes go on after the snapshot, and a restart finds the new file.
        try follower.put("e")
        #expect(store.currentRevision == 7)
        #expect(synced.take(max: 10).map(\.revision) == [7])
        try follower.reopen(crash: true)
        #expect(follower.liveKeys() == ["a", "c", "d"] || follower.liveKeys() == ["a", "c", "d", "e"])
        #expect(follower.space.store.compactRevision == 4)
        #expect(follower.keys(of: Self.lease) == ["a"])
    }

    @Test func aDamagedFileIsRefusedAndChangesNothing() throws {
        let leader = try Self.leader()
        let follower = try KeySpaceFixture()
        try follower.put("mine")
        try follower.space.store.flush()
        let copy = follower.directory.child("snapshot.db")
        try leader.database.writeCopy(to: copy)
        // Cut the copy short of the pages its meta counts.
        let truncated = try Database.open(path: copy)
        let pages = truncated.stats.pageCount
        truncated.close()
        #expect(pages > 3)
        try truncate(copy, bytes: Int64(pages - 1) * Int64(Database.pageSize))
        #expect(throws: StorageError.self) { try follower.database.replace(withFileAt: copy) }
        #expect(follower.database.replacements == 0)
        #expect(follower.liveKeys() == ["mine"])
        try follower.put("more")
        #expect(follower.liveKeys() == ["mine", "more"])
    }

    private func truncate(_ path: String, bytes: Int64) throws {
        try #require(Glibc.truncate(path, off_t(bytes)) == 0)
    }
}

import KeelStorage
import KeelTestSupport
import Testing
@testable import KeelMVCC

/// A key space (store, lessor, watch hub) in a temporary directory, applying numbered entries.
final class KeySpaceFixture {
    let directory = TemporaryDirectory("keel-keyspace")
    let options = KeySpaceOptions(lessor: LessorConfig(minTTLSeconds: 2))
    var database: Database
    var space: KeySpace
    var applied: UInt64 = 0

    init() throws {
        database = try Database.open(path: directory.child("db"))
        space = try KeySpace(database: database, options: options)
    }

    deinit {
        space.store.discardUncommitted()
        database.close()
        directory.remove()
    }

    func next() -> ConsistentIndex {
        applied += 1
        return ConsistentIndex(index: applied, term: 1)
    }

    /// Reopens everything: after a clean close, or (`crash`) losing what was not committed.
    func reopen(crash: Bool) throws {
        if crash { space.store.discardUncommitted() } else { try space.store.close() }
        database.close()
        database = try Database.open(path: directory.child("db"))
        space = try KeySpace(database: database, options: options)
        applied = space.store.consistentIndex.index
    }

    @discardableResult
    func put(_ key: String, _ value: String = "v", lease: LeaseID = .none) throws -> Result<PutResponse, MVCCRefusal> {
        try space.put(PutRequest(key: bytes(key), value: bytes(value), lease: lease), applying: next())
    }

    func keys(of lease: LeaseID) -> [String]? {
        guard case .success(let status) = space.lessor.timeToLive(lease, nowNanoseconds: 0, withKeys: true) else { return nil }
        return status.keys.map { String(decoding: $0, as: UTF8.self) }
    }

    func liveKeys() -> [String] {
        guard case .success(let response) = space.store.range(RangeRequest(key: [0], rangeEnd: [0])) else { return [] }
        return response.kvs.map { String(decoding: $0.key, as: UTF8.self) }
    }
}

@Suite struct KeySpaceTests {
    static let lease = LeaseID(7)

    @Test func attachmentsFollowPutsAndDeletes() throws {
        let fixture = try KeySpaceFixture()
        #expect(try fixture.space.leaseGrant(Self.lease, ttlSeconds: 1, nowNanoseconds: 0, applying: fixture.next()) == .success(2))
        #expect(try fixture.put("a", lease: LeaseID(99)) == .failure(.leaseNotFound(LeaseID(99))))
        let unknownInTxn = TxnRequest(success: [.put(PutRequest(key: bytes("a"), lease: LeaseID(99)))])
        #expect(try fixture.space.txn(unknownInTxn, applying: fixture.next()) == .failure(.leaseNotFound(LeaseID(99))))
        try fixture.put("a", lease: Self.lease)
        try fixture.put("b", lease: Self.lease)
        try fixture.put("c", lease: Self.lease)
        try fixture.put("d")
        #expect(fixture.keys(of: Self.lease) == ["a", "b", "c"])
        try fixture.put("b")                                   // put without the lease: detached
        _ = try fixture.space.deleteRange(DeleteRangeRequest(key: bytes("c")), applying: fixture.next())
        _ = try fixture.space.put(PutRequest(key: bytes("a"), value: bytes("new"), ignoreLease: true), applying: fixture.next())
        #expect(fixture.keys(of: Self.lease) == ["a"])
        try fixture.put("c", lease: Self.lease)                // recreated with the lease again
        #expect(fixture.keys(of: Self.lease) == ["a", "c"])
    }

    @Test func revokeDeletesTheLeasesKeysInOneRevisionAndWatchersSeeIt() throws {
        let fixture = try KeySpaceFixture()
        let stream = fixture.space.watches.openStream {}
        _ = stream.create(WatchCreateRequest(key: [0], end: [0]))
        _ = try fixture.space.leaseGrant(Self.lease, ttlSeconds: 10, nowNanoseconds: 0, applying: fixture.next())
        try fixture.put("a", lease: Self.lease)
        try fixture.put("b")
        try fixture.put("c", lease: Self.lease)
        let before = fixture.space.store.currentRevision
        #expect(try fixture.space.leaseRevoke(Self.lease, applying: fixture.next()) == .success(before + 1))
        #expect(try fixture.space.leaseRevoke(Self.lease, applying: fixture.next()) == .failure(.leaseNotFound(Self.lease)))
        #expect(fixture.liveKeys() == ["b"])
        #expect(fixture.space.lessor.leases().isEmpty)
        let responses = stream.take(max: 100).filter { $0.kind == .events }
        #expect(responses.map(\.revision) == [2, 3, 4, 5])
        #expect(responses.last!.events.map(\.kind) == [.delete, .delete])
        #expect(responses.last!.events.map(\.kv.key) == [bytes("a"), bytes("c")])
        // A lease with no keys is revoked without a new revision.
        _ = try fixture.space.leaseGrant(LeaseID(8), ttlSeconds: 10, nowNanoseconds: 0, applying: fixture.next())
        #expect(try fixture.space.leaseRevoke(LeaseID(8), applying: fixture.next()) == .success(before + 1))
        #expect(fixture.space.store.consistentIndex.index == fixture.applied)
    }

    @Test func aBatchIsPublishedAndNotifiedAtItsEnd() throws {
        let fixture = try KeySpaceFixture()
        let stream = fixture.space.watches.openStream {}
        _ = stream.create(WatchCreateRequest(key: [0], end: [0]))
        _ = stream.take(max: 10)
        fixture.space.beginBatch()
        try fixture.put("a")
        try fixture.put("b")
        #expect(fixture.liveKeys().isEmpty)
        #expect(stream.take(max: 10).isEmpty)
        fixture.space.endBatch()
        #expect(fixture.liveKeys() == ["a", "b"])
        #expect(stream.take(max: 10).map(\.revision) == [2, 3])
    }

    /// Restart: the index, the revision, the consistent index, the leases with their keys and
    /// their checkpointed remaining TTL all come back; a crash goes back to the last commit as
    /// one consistent state.
    @Test func restartRestoresLeasesAndAttachments() throws {
        let fixture = try KeySpaceFixture()
        _ = try fixture.space.leaseGrant(Self.lease, ttlSeconds: 100, nowNanoseconds: 0, applying: fixture.next())
        _ = try fixture.space.leaseGrant(LeaseID(8), ttlSeconds: 50, nowNanoseconds: 0, applying: fixture.next())
        try fixture.put("a", lease: Self.lease)
        try fixture.put("b", lease: LeaseID(8))
        try fixture.space.leaseCheckpoint([LeaseCheckpoint(id: Self.lease, remainingTTLSeconds: 40)], nowNanoseconds: 0, applying: fixture.next())
        try fixture.reopen(crash: false)
        #expect(fixture.space.keysWithUnknownLeaseAtOpen.isEmpty)
        #expect(fixture.space.lessor.leases() == [Self.lease, LeaseID(8)])
        #expect(fixture.keys(of: Self.lease) == ["a"])
        #expect(fixture.keys(of: LeaseID(8)) == ["b"])
        #expect(fixture.space.store.currentRevision == 3)
        #expect(fixture.applied == 5)
        // The checkpointed remainder is what a new leader counts down from.
        fixture.space.lessor.promote(nowNanoseconds: 0, extendNanoseconds: 0)
        let status = try fixture.space.lessor.timeToLive(Self.lease, nowNanoseconds: 0, withKeys: false).get()
        #expect(status.grantedTTLSeconds == 100 && status.remainingTTLSeconds == 40)
        fixture.space.lessor.demote()

        // Uncommitted work is lost together: the revoke, its deletions and the new grant.
        _ = try fixture.space.leaseRevoke(LeaseID(8), applying: fixture.next())
        _ = try fixture.space.leaseGrant(LeaseID(9), ttlSeconds: 50, nowNanoseconds: 0, applying: fixture.next())
        #expect(fixture.liveKeys() == ["a"])
        try fixture.reopen(crash: true)
        #expect(fixture.applied == 5)
        #expect(fixture.liveKeys() == ["a", "b"])
        #expect(fixture.space.lessor.leases() == [Self.lease, LeaseID(8)])
        #expect(fixture.keys(of: LeaseID(8)) == ["b"])
    }
}

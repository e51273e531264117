import KeelStorage
import KeelTestSupport
import Testing
@testable import KeelMVCC

/// A database in a temporary directory with the `lease` bucket, for lessor tests.
final class LeaseDatabase {
    let directory = TemporaryDirectory("keel-lessor")
    private(set) var database: Database

    init() throws {
        database = try Database.open(path: directory.child("db"))
        let txn = try database.beginWrite()
        try txn.createBucket(LeaseRecord.bucket)
        try txn.commit()
    }

    /// Runs `body` in one write transaction and commits it.
    func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        let txn = try database.beginWrite()
        let result = try body(txn)
        try txn.commit()
        return result
    }

    func reopen() throws {
        database.close()
        database = try Database.open(path: directory.child("db"))
    }

    deinit {
        database.close()
        directory.remove()
    }
}

@Suite struct LessorTests {
    let second: Int64 = 1_000_000_000

    static func config(minTTL: Int64 = 2) -> LessorConfig {
        var config = LessorConfig(minTTLSeconds: minTTL)
        config.checkpointIntervalNanoseconds = 10 * 1_000_000_000
        return config
    }

    @Test func grantRevokeAndRefusals() throws {
        let db = try LeaseDatabase()
        let lessor = Lessor(config: Self.config())
        try db.write { (txn: WriteTransaction) throws in
            #expect(try lessor.grant(LeaseID(7), ttlSeconds: 30, nowNanoseconds: 0, in: txn) == .success(30))
            #expect(try lessor.grant(LeaseID(7), ttlSeconds: 30, nowNanoseconds: 0, in: txn) == .failure(.leaseExists(LeaseID(7))))
            #expect(try lessor.grant(.none, ttlSeconds: 30, nowNanoseconds: 0, in: txn) == .failure(.leaseNotFound(.none)))
            #expect(try lessor.grant(LeaseID(8), ttlSeconds: 9_000_000_001, nowNanoseconds: 0, in: txn) == .failure(.leaseTTLTooLarge))
            #expect(try lessor.grant(LeaseID(3), ttlSeconds: 1, nowNanoseconds: 0, in: txn) == .success(2), "raised to the minimum")
        }
        #expect(lessor.leases() == [LeaseID(3), LeaseID(7)])
        #expect(lessor.attach(LeaseID(7), keys: [Array("b".utf8), Array("a".utf8)]) == nil)
        #expect(lessor.attach(LeaseID(99), keys: [Array("c".utf8)]) == .leaseNotFound(LeaseID(99)))
        #expect(lessor.lease(ofKey: Array("a".utf8)) == LeaseID(7))
        let keys = try db.write { txn in try lessor.revoke(LeaseID(7), in: txn) }
        #expect(keys == .success([Array("a".utf8), Array("b".utf8)]))
        #expect(lessor.lease(ofKey: Array("a".utf8)) == .none)
        #expect(try db.write { txn in try lessor.revoke(LeaseID(7), in: txn) } == .failure(.leaseNotFound(LeaseID(7))))
        #expect(lessor.detach(LeaseID(7), keys: [Array("a".utf8)]) == .leaseNotFound(LeaseID(7)))
        #expect(lessor.leases() == [LeaseID(3)])
        #expect(lessor.timeToLive(LeaseID(7), nowNanoseconds: 0, withKeys: false) == .failure(.leaseNotFound(LeaseID(7))))
    }

    @Test func attachMovesAndDetachForgets() throws {
        let db = try LeaseDatabase()
        let lessor = Lessor(config: Self.config())
        try db.write { txn in
            _ = try lessor.grant(LeaseID(1), ttlSeconds: 10, nowNanoseconds: 0, in: txn)
            _ = try lessor.grant(LeaseID(2), ttlSeconds: 10, nowNanoseconds: 0, in: txn)
        }
        let k = Array("k".utf8)
        #expect(lessor.attach(LeaseID(1), keys: [k]) == nil)
        #expect(lessor.attach(LeaseID(2), keys: [k]) == nil)
        #expect(lessor.timeToLive(LeaseID(1), nowNanoseconds: 0, withKeys: true).map(\.keys) == .success([]))
        #expect(lessor.timeToLive(LeaseID(2), nowNanoseconds: 0, withKeys: true).map(\.keys) == .success([k]))
        #expect(lessor.detach(LeaseID(1), keys: [k]) == nil, "not attached to 1: nothing happens")
        #expect(lessor.lease(ofKey: k) == LeaseID(2))
        #expect(lessor.detach(LeaseID(2), keys: [k]) == nil)
        #expect(lessor.lease(ofKey: k) == .none)
    }

    @Test func renewAndTimeToLiveOnTheLeaderOnly() throws {
        let db = try LeaseDatabase()
        let lessor = Lessor(config: Self.config())
        try db.write { txn in _ = try lessor.grant(LeaseID(5), ttlSeconds: 10, nowNanoseconds: 0, in: txn) }
        #expect(lessor.renew(LeaseID(5), nowNanoseconds: 0) == .notPrimary)
        #expect(lessor.timeToLive(LeaseID(5), nowNanoseconds: 0, withKeys: false).map(\.remainingTTLSeconds) == .success(10))
        lessor.promote(nowNanoseconds: 100 * second, extendNanoseconds: 0)
        #expect(lessor.timeToLive(LeaseID(5), nowNanoseconds: 104 * second, withKeys: false).map(\.remainingTTLSeconds) == .success(6))
        #expect(lessor.renew(LeaseID(5), nowNanoseconds: 104 * second) == .renewed(ttlSeconds: 10, clear: nil))
        #expect(lessor.timeToLive(LeaseID(5), nowNanoseconds: 105 * second, withKeys: false)
            == .success(LeaseStatus(id: LeaseID(5), grantedTTLSeconds: 10, remainingTTLSeconds: 9, keys: [])))
        #expect(lessor.renew(LeaseID(6), nowNanoseconds: 105 * second) == .refused(.leaseNotFound(LeaseID(6))))
        #expect(lessor.renew(LeaseID(5), nowNanoseconds: 114 * second) == .expired)
        lessor.demote()
        #expect(lessor.renew(LeaseID(5), nowNanoseconds: 114 * second) == .notPrimary)
        #expect(lessor.expiredLeases(nowNanoseconds: 1000 * second, max: 10) == [])
    }

    @Test func expiryComesOutOfTheHeapInOrderAndIsRetried() throws {
        let db = try LeaseDatabase()
        let lessor = Lessor(config: Self.config())
        lessor.promote(nowNanoseconds: 0, extendNanoseconds: 0)
        try db.write { txn in
            for (id, ttl) in [(1, 50), (2, 20), (3, 40), (4, 20), (5, 30)] as [(Int64, Int64)] {
                _ = try lessor.grant(LeaseID(id), ttlSeconds: ttl, nowNanoseconds: 0, in: txn)
            }
        }
        #expect(lessor.expiredLeases(nowNanoseconds: 19 * second, max: 10) == [])
        #expect(lessor.expiredLeases(nowNanoseconds: 20 * second, max: 10) == [LeaseID(2), LeaseID(4)])
        // Handed out: not again before the retry interval (3 s), unless revoked.
        #expect(lessor.expiredLeases(nowNanoseconds: 22 * second, max: 10) == [])
        #expect(lessor.renew(LeaseID(5), nowNanoseconds: 22 * second) == .renewed(ttlSeconds: 30, clear: nil))
        _ = try db.write { txn in try lessor.revoke(LeaseID(4), in: txn) }
        #expect(lessor.expiredLeases(nowNanoseconds: 45 * second, max: 2) == [LeaseID(2), LeaseID(3)])
        #expect(lessor.expiredLeases(nowNanoseconds: 52 * second, max: 10) == [LeaseID(2), LeaseID(3), LeaseID(1), LeaseID(5)], "retries at 48 s, by id on a tie")
    }

    @Test func promoteRestartsEveryCountdownWithTheExtension() throws {
        let db = try LeaseDatabase()
        let lessor = Lessor(config: Self.config())
        lessor.promote(nowNanoseconds: 0, extendNanoseconds: 0)
        try db.write { txn in _ = try lessor.grant(LeaseID(1), ttlSeconds: 10, nowNanoseconds: 0, in: txn) }
        lessor.demote()
        lessor.promote(nowNanoseconds: 9 * second, extendNanoseconds: 2 * second)
        #expect(lessor.expiredLeases(nowNanoseconds: 20 * second, max: 10) == [])
        #expect(lessor.expiredLeases(nowNanoseconds: 21 * second, max: 10) == [LeaseID(1)])
    }

    @Test func checkpointThenRestoreKeepsTheRemainingTTL() throws {
        let db = try LeaseDatabase()
        let leader = Lessor(config: Self.config())
        let follower = Lessor(config: Self.config())
        leader.promote(nowNanoseconds: 0, extendNanoseconds: 0)
        try db.write { txn in
            _ = try leader.grant(LeaseID(9), ttlSeconds: 100, nowNanoseconds: 0, in: txn)
            _ = try leader.grant(LeaseID(10), ttlSeconds: 5, nowNanoseconds: 0, in: txn)
        }
        #expect(leader.dueCheckpoints(nowNanoseconds: 9 * second, max: 10) == [])
        // 100 s lease, 10 s interval: due at 10 s; a 5 s lease never needs one.
        let due = leader.dueCheckpoints(nowNanoseconds: 10 * second + 1, max: 10)
        #expect(due == [LeaseCheckpoint(id: LeaseID(9), remainingTTLSeconds: 90)])
        // Every member applies it (here the leader's, through the database it shares with a restart).
        try db.write { txn in try leader.checkpoint(due, nowNanoseconds: 11 * second, in: txn) }
        try db.reopen()
        let read = db.database.beginRead()
        follower.restore(from: read)
        read.end()
        #expect(follower.leases() == [LeaseID(9), LeaseID(10)])
        // A new leader restarts from the checkpointed 90 s, not the full 100 s.
        follower.promote(nowNanoseconds: 500 * second, extendNanoseconds: 0)
        #expect(follower.timeToLive(LeaseID(9), nowNanoseconds: 500 * second, withKeys: false)
            == .success(LeaseStatus(id: LeaseID(9), grantedTTLSeconds: 100, remainingTTLSeconds: 90, keys: [])))
        #expect(follower.expiredLeases(nowNanoseconds: 590 * second - 1, max: 10) == [LeaseID(10)])
        // A keepalive restarts from the full TTL and asks every member to forget the remainder.
        #expect(follower.renew(LeaseID(9), nowNanoseconds: 589 * second) == .renewed(
            ttlSeconds: 100, clear: LeaseCheckpoint(id: LeaseID(9), remainingTTLSeconds: 0)))
        try db.write { txn in try follower.checkpoint([LeaseCheckpoint(id: LeaseID(9), remainingTTLSeconds: 0)], nowNanoseconds: 591 * second, in: txn) }
        #expect(follower.renew(LeaseID(9), nowNanoseconds: 592 * second) == .renewed(ttlSeconds: 100, clear: nil))
        follower.demote()
        follower.promote(nowNanoseconds: 600 * second, extendNanoseconds: 0)
        #expect(follower.timeToLive(LeaseID(9), nowNanoseconds: 600 * second, withKeys: false).map(\.remainingTTLSeconds) == .success(100))
    }

    @Test func persistenceRoundTripsThroughTheLeaseBucket() throws {
        let db = try LeaseDatabase()
        let lessor = Lessor(config: Self.config())
        var generator = LeaseIDGenerator(memberID: 0xBEEF, startMilliseconds: 1_700_000_000_000)
        var granted: [LeaseID: Int64] = [:]
        try db.write { (txn: WriteTransaction) throws in
            for index in 0..<200 {
                let id = generator.next()
                let ttl = Int64(index % 50)
                granted[id] = max(ttl, 2)
                #expect(try lessor.grant(id, ttlSeconds: ttl, nowNanoseconds: 0, in: txn) == .success(max(ttl, 2)))
            }
        }
        #expect(granted.count == 200, "generated ids are distinct")
        #expect(granted.keys.allSatisfy { $0.rawValue > 0 })
        let revoked = lessor.leases().prefix(50)
        try db.write { txn in for id in revoked { _ = try lessor.revoke(id, in: txn) } }
        try db.reopen()
        let restored = Lessor(config: Self.config())
        let read = db.database.beginRead()
        restored.restore(from: read)
        var stored = 0
        read.scan(LeaseRecord.bucket) { _, _ in stored += 1; return true }
        read.end()
        #expect(stored == 150)
        #expect(restored.leases() == lessor.leases())
        for id in restored.leases() {
            #expect(restored.timeToLive(id, nowNanoseconds: 0, withKeys: false).map(\.grantedTTLSeconds) == .success(granted[id]!))
        }
        // A raised minimum applies to restored leases too.
        let stricter = Lessor(config: Self.config(minTTL: 20))
        let again = db.database.beginRead()
        stricter.restore(from: again)
        again.end()
        #expect(stricter.leases().allSatisfy { id in
            stricter.timeToLive(id, nowNanoseconds: 0, withKeys: false).map(\.grantedTTLSeconds) == .success(max(granted[id]!, 20))
        })
    }

    @Test func promoteSpreadsAPileOfExpiries() throws {
        let db = try LeaseDatabase()
        var config = Self.config()
        config.revokeRatePerSecond = 40
        let lessor = Lessor(config: config)
        try db.write { txn in
            for id in 1...100 { _ = try lessor.grant(LeaseID(Int64(id)), ttlSeconds: 10, nowNanoseconds: 0, in: txn) }
        }
        lessor.promote(nowNanoseconds: 0, extendNanoseconds: 0)
        // 30 per second at most: 100 leases need 4 seconds from the 10 s mark.
        var seen: [LeaseID] = []
        for step in 0...4 {
            let now = (10 + Int64(step)) * second
            let batch = lessor.expiredLeases(nowNanoseconds: now + second - 1, max: 1000).filter { !seen.contains($0) }
            #expect(batch.count <= 30, "second \(step): \(batch.count) expiries")
            seen += batch
        }
        #expect(Set(seen).count == 100)
        #expect(lessor.expiredLeases(nowNanoseconds: 10 * second - 1, max: 1) == [])
    }

    @Test func minimumTTLFollowsTheElectionTimeout() {
        #expect(LessorConfig.minTTLSeconds(electionTimeoutNanoseconds: 1 * second) == 2)
        #expect(LessorConfig.minTTLSeconds(electionTimeoutNanoseconds: 2 * second) == 3)
        #expect(LessorConfig.minTTLSeconds(electionTimeoutNanoseconds: 5 * second) == 8)
    }
}

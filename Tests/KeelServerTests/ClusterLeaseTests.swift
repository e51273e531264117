#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelMVCC
import KeelTestSupport
import NIOCore
import Testing
@testable import KeelServer

/// Leases on three real keel processes, driven by etcdctl through a follower: keepalives and
/// TimeToLive are forwarded to the leader (only its lessor counts time), a lease kept alive
/// survives a kill -9 of the leader, and a lease nobody keeps alive still expires.
@Suite struct ClusterLeaseTests {
    @Test func keepAlivesThroughAFollowerReachTheLeaderAndSurviveItsCrash() throws {
        let cluster = try KeelCluster(size: 3)
        let all = [0, 1, 2]
        let follower = (try #require(cluster.waitForLeader(among: all), "no agreed leader") + 1) % 3
        let kept = try cluster.grantLease(follower, ttl: 6)
        let lapsing = try cluster.grantLease(follower, ttl: 6)
        #expect(cluster.etcdctl(follower, ["put", "--lease=\(kept)", "kept", "1"]).output == "OK\n")
        #expect(cluster.etcdctl(follower, ["put", "--lease=\(lapsing)", "lapsing", "1"]).output == "OK\n")

        // Two seconds later one lease is renewed through the follower: the leader restarts its
        // countdown and answers the full TTL; TimeToLive through the follower is the leader's
        // countdown, so the renewed lease has more left than the other, which has less than its
        // TTL (a follower counts no time: it would answer the full TTL for both). A leader
        // elected meanwhile restarts every countdown, one election timeout longer: then the
        // measure is taken again, two seconds on.
        var measures: [String] = []
        var countedByLeader = false
        for _ in 0..<2 where !countedByLeader {
            sleep(2)
            let renewed = cluster.keepAliveOnce(follower, kept)
            // Required: without forwarding every later step would wait out its timeout.
            try #require(renewed.exitStatus == 0 && renewed.output == "lease \(kept) keepalived with TTL(6)\n", "\(renewed.output)")
            let keptLeft = cluster.remainingTTL(follower, kept)
            let lapsingLeft = cluster.remainingTTL(follower, lapsing)
            let keptSeconds = try #require(keptLeft.seconds, "\(keptLeft.output)")
            let lapsingSeconds = try #require(lapsingLeft.seconds, "\(lapsingLeft.output)")
            measures.append("kept \(keptSeconds) s, lapsing \(lapsingSeconds) s")
            countedByLeader = keptSeconds > lapsingSeconds && lapsingSeconds < 6
        }
        #expect(countedByLeader, "\(measures)")
        let withKeys = cluster.boundedEtcdctl(follower, ["lease", "timetolive", kept, "--keys"]).output
        #expect(withKeys.hasPrefix("lease \(kept) granted with TTL(6s), remaining(") && withKeys.hasSuffix("s), attached keys([kept])\n"),
                "\(withKeys)")
        // Leases the leader does not know, through the follower: gone, as etcd says it.
        let missing = cluster.keepAliveOnce(follower, "1234abcd")
        #expect(missing.exitStatus != 0 && missing.output.contains("etcdserver: requested lease not found"), "\(missing.output)")
        #expect(cluster.remainingTTL(follower, "1234abcd").output == "lease 000000001234abcd already expired\n")

        // kill -9 the leader (the one now: elections on a loaded machine happen) right after a
        // renewal through a follower.
        let leader = try #require(cluster.waitForLeader(among: all), "no agreed leader")
        let oldLeaderID = try #require(cluster.status(leader)).member
        #expect(cluster.keepAliveOnce((leader + 1) % 3, kept).exitStatus == 0)
        cluster.kill(leader)
        let survivors = all.filter { $0 != leader }
        let newLeader = try #require(cluster.waitForLeader(among: survivors, excluding: oldLeaderID), "no new leader")
        let via = survivors.first { $0 != newLeader }!
        // The new leader did not expire the lease early: it is there, with its key; renewed
        // through the remaining follower it is back to its full TTL.
        let afterElection = cluster.remainingTTL(via, kept)
        #expect(afterElection.seconds.map { $0 > 0 } == true, "\(afterElection.output)")
        #expect(cluster.etcdctl(via, ["get", "kept", "--print-value-only"]).output == "1\n")
        let again = cluster.keepAliveOnce(via, kept)
        try #require(again.exitStatus == 0 && again.output == "lease \(kept) keepalived with TTL(6)\n", "\(again.output)")
        let full = cluster.remainingTTL(via, kept)
        // Close to full: the TTL less the time etcdctl took, or one election timeout more if
        // yet another leader was elected meanwhile.
        #expect(full.seconds.map { $0 >= 3 && $0 <= 7 } == true, "\(full.output)")

        // The lease nobody keeps alive expires on the new leader (its countdown restarted at the
        // election, one election timeout longer), while the kept one, renewed through the
        // follower all along, stays.
        var expired = false
        for _ in 0..<60 where !expired {
            let renewal = cluster.keepAliveOnce(via, kept)
            try #require(renewal.exitStatus == 0, "\(renewal.output)")
            expired = cluster.remainingTTL(via, lapsing).output == "lease \(lapsing) already expired\n"
            if !expired { usleep(500_000) }
        }
        #expect(expired, "lease \(lapsing) still alive")
        for index in survivors {
            #expect(cluster.etcdctl(index, ["get", "lapsing"]).output == "", "member \(index)")
            #expect(cluster.etcdctl(index, ["get", "kept", "--print-value-only"]).output == "1\n", "member \(index)")
        }
        #expect(cluster.remainingTTL(via, kept).seconds != nil)

        // Quorum lost: the last member has no leader to forward to and says so once the
        // request timeout (5 s and two election timeouts) has passed, as etcd does.
        cluster.kill(newLeader)
        let alone = cluster.keepAliveOnce(via, kept)
        #expect(alone.exitStatus != 0 && alone.output.contains("etcdserver: no leader"), "\(alone.output)")
    }

    /// The lease payloads a follower and the leader exchange round-trip, and damage is a typed
    /// error, never a trap (no processes: the layouts of LeasePeerPayloads.swift).
    @Test func forwardedLeasePayloadsRoundTrip() throws {
        let id = LeaseID(0x694D_77AA_9E2D_0A05)
        #expect(try LeasePeerRenewal.readRequest(LeasePeerRenewal.request(id)) == id)
        for answer in [LeasePeerRenewal.renewed(ttlSeconds: 60), .notFound, .retry] {
            #expect(answer.encoded.count == 16)
            #expect(try LeasePeerRenewal(decoding: answer.encoded) == answer)
        }
        #expect(try LeasePeerTimeToLive.readRequest(LeasePeerTimeToLive.request(id, keys: true)) == (id, true))
        let status = LeasePeerTimeToLive.Status(remainingTTLSeconds: 7, grantedTTLSeconds: 10, keys: [Array("a".utf8), [], [0xFF, 0]])
        for answer in [LeasePeerTimeToLive.found(status), .found(.init(remainingTTLSeconds: 1, grantedTTLSeconds: 2, keys: [])), .notFound, .retry] {
            let bytes = answer.encoded
            #expect(try LeasePeerTimeToLive(decoding: bytes) == answer)
            for length in 0..<bytes.count {
                #expect(throws: PeerFrameError.self) { try LeasePeerTimeToLive(decoding: Array(bytes.prefix(length))) }
            }
            #expect(throws: PeerFrameError.self) { try LeasePeerTimeToLive(decoding: bytes + [0]) }
        }
        var unknown = LeasePeerRenewal.retry.encoded
        unknown[0] = 7
        #expect(throws: PeerFrameError.self) { try LeasePeerRenewal(decoding: unknown) }
        // A key count no body could hold.
        var lying = LeasePeerTimeToLive.found(status).encoded
        lying[24] = 0xFF
        #expect(throws: PeerFrameError.self) { try LeasePeerTimeToLive(decoding: lying) }
        #expect(throws: PeerFrameError.self) { try LeasePeerTimeToLive.readRequest(LeasePeerRenewal.request(id)) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelTestSupport
import Testing

/// A member that was down while the others wrote past their raft log's catch-up margin comes
/// back and catches up by a snapshot (the leader's B+tree), not by append: real processes,
/// real etcdctl.
@Suite(.serialized) struct SnapshotCatchUpTests {
    /// Snapshots every 100 applied entries, keeping 20 entries before each: a member 100+
    /// entries behind has to get a snapshot.
    static let arguments = ["--snapshot-count", "100", "--experimental-snapshot-catchup-entries", "20"]

    @Test func aMemberFarBehindCatchesUpBySnapshotAndKeepsEverything() throws {
        let cluster = try KeelCluster(size: 3, extraArguments: Self.arguments)
        let leader = try #require(cluster.waitForLeader(among: [0, 1, 2]))
        let follower = (0..<3).first { $0 != leader }!
        #expect(cluster.etcdctl(leader, ["put", "before", "crash"]).exitStatus == 0)
        cluster.kill(follower)

        // Past two snapshots' worth of entries: puts, a lease with a key, a delete, a compaction.
        let grant = cluster.etcdctl(leader, ["lease", "grant", "600"])
        let leaseID = try #require(grant.output.split(separator: " ").dropFirst().first.map(String.init), "\(grant.output)")
        #expect(cluster.etcdctl(leader, ["put", "leased", "v", "--lease=\(leaseID)"]).exitStatus == 0)
        cluster.bench(leader, ["put", "--total", "150", "--clients", "4", "--conns", "2", "--key-space-size", "60",
                               "--sequential-keys", "--val-size", "32"])
        #expect(cluster.etcdctl(leader, ["del", "before"]).exitStatus == 0)
        let revision = try #require(cluster.keySpace(leader)?.revision)
        #expect(cluster.etcdctl(leader, ["compact", String(revision - 40)]).exitStatus == 0)
        // KEEL_SNAPSHOT_CATCHUP_PUTS makes the snapshot larger, to measure the catch-up time.
        let puts = Int(ProcessInfo.processInfo.environment["KEEL_SNAPSHOT_CATCHUP_PUTS"] ?? "") ?? 150
        cluster.bench(leader, ["put", "--total", String(puts), "--clients", "4", "--conns", "2", "--key-space-size", String(2 * puts),
                               "--sequential-keys", "--val-size", "32"])
        let installsBefore = cluster.count("installed snapshot database", inLogOf: follower)

        let started = Date()
        try cluster.restart(follower)
        #expect(cluster.eventually { cluster.count("installed snapshot database", inLogOf: follower) > installsBefore },
                "no snapshot installed:\n\(cluster.log(follower).suffix(3000))")
        #expect(cluster.count("saved database snapshot from the leader", inLogOf: follower) > 0)
        #expect(cluster.count("\"received-into\":\"file\"", inLogOf: follower) > 0, "\(cluster.log(follower).suffix(2000))")
        // A crash right after the install: the member restarts on the installed state.
        cluster.kill(follower)
        try cluster.restart(follower)
        #expect(cluster.count("sending database snapshot", inLogOf: leader) > 0)
        try expectAgreement(cluster)
        print("snapshot catch-up: restart to agreement took \(Int(Date().timeIntervalSince(started) * 1000)) ms")
        let lines = (cluster.log(leader) + cluster.log(follower)).split(separator: "\n")
        for line in lines where ["sending database snapshot", "saved database snapshot", "installed snapshot database"].contains(where: line.contains) {
            print("snapshot catch-up: \(line)")
        }

        // The lease came with the snapshot, with its key attached.
        #expect(cluster.leases(follower).contains { $0.contains(leaseID) }, "\(cluster.leases(follower))")
        let ttl = cluster.etcdctl(follower, ["lease", "timetolive", leaseID, "--keys"])
        #expect(ttl.output.contains("attached keys([leased])"), "\(ttl.output)")
        // Compacted revisions stay compacted on the member that got them by snapshot.
        let old = cluster.etcdctl(follower, ["get", "leased", "--rev", "2", "--consistency=s"])
        #expect(old.exitStatus != 0 && old.output.contains("required revision has been compacted"), "\(old.output)")

        // It keeps applying what comes after the snapshot.
        #expect(cluster.etcdctl(leader, ["put", "after", "snapshot"]).exitStatus == 0)
        #expect(cluster.eventually {
            cluster.etcdctl(follower, ["get", "after", "--print-value-only", "--consistency=s"]).output == "snapshot\n"
        })
        try expectAgreement(cluster)

        // A crash and restart keep the installed state and what followed it.
        cluster.kill(follower)
        try cluster.restart(follower)
        try expectAgreement(cluster)
        #expect(cluster.etcdctl(follower, ["get", "after", "--print-value-only", "--consistency=s"]).output == "snapshot\n")
        #expect(cluster.leases(follower).contains { $0.contains(leaseID) })
    }

    /// Every member serves the same keys (revisions, versions, leases included), the same
    /// revision, the same hashkv and the same leases, once the follower has caught up.
    private func expectAgreement(_ cluster: KeelCluster) throws {
        let agreed = cluster.eventually {
            let spaces = (0..<3).map { cluster.keySpace($0) }
            let hashes = (0..<3).map { cluster.hashKV($0) }
            return spaces.allSatisfy { $0 != nil && $0!.revision == spaces[0]!.revision && $0!.kvs == spaces[0]!.kvs }
                && hashes.allSatisfy { $0 != nil && $0!.hash == hashes[0]!.hash && $0!.compactRevision == hashes[0]!.compactRevision }
        }
        let spaces = (0..<3).map { cluster.keySpace($0) }
        #expect(agreed, "members disagree: revisions \(spaces.map { $0?.revision ?? -1 }), hashes \((0..<3).map { cluster.hashKV($0).map { "\($0)" } ?? "none" })")
        let leases = (0..<3).map { cluster.leases($0) }
        #expect(leases.allSatisfy { $0 == leases[0] }, "leases disagree: \(leases)")
        #expect((spaces[0]?.kvs.count ?? 0) > 1000)
    }
}

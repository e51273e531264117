#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import KeelRaft
@testable import KeelServer
import KeelTestSupport
import Testing

/// A network partition of a real three-member cluster, made with each member's partition
/// switch (`--experimental-peer-fault-injection`): the leader alone on one side refuses
/// linearizable reads and writes, the other two elect a leader and serve, and after healing
/// every member holds the same key space (the same HashKV at one revision).
@Suite struct PartitionTests {
    @Test func minorityRefusesMajorityServesAndAllConvergeAfterHealing() throws {
        let cluster = try KeelCluster(size: 3, extraArguments: ["--experimental-peer-fault-injection"])
        let all = [0, 1, 2]
        #expect(cluster.etcdctl(0, ["put", "before", "split"]).output == "OK\n")
        let leader = try #require(cluster.waitForLeader(among: all), "no agreed leader")
        let majority = all.filter { $0 != leader }
        let ids = try all.map { try #require(cluster.status($0), "member \($0) does not answer").member }
        let oldTerm = try #require(cluster.status(leader)).raftTerm

        // The cut: the leader drops the other two, and they drop the leader.
        #expect(switchPartition(cluster, leader, members: majority.map { ids[$0] }) == 200)
        for index in majority { #expect(switchPartition(cluster, index, members: [ids[leader]]) == 200) }

        // A write reaching the cut-off leader before it steps down is appended but can never
        // commit: it waits out the request timeout (7 s here) and fails "request timed out", as
        // etcd's does. (Arriving after the step-down, it fails at once with "no leader"; a
        // request whose deadline is never checked would run into etcdctl's own 15 s instead.)
        let stranded = cluster.etcdctl(leader, ["--command-timeout=15s", "put", "lost", "write"])
        #expect(stranded.exitStatus != 0, "\(stranded.output)")
        #expect(["request timed out", "no leader"].contains { stranded.output.contains($0) }, "\(stranded.output)")
        print("PartitionTests: a write to the cut-off leader answered: \(stranded.output.trimmingCharacters(in: .whitespacesAndNewlines))")

        // The majority elects a new leader of a higher term; the old one, hearing from no
        // quorum, steps down (check quorum) and knows no leader.
        let newLeader = try #require(cluster.waitForLeader(among: majority, excluding: ids[leader]), "the majority elected nobody")
        #expect(try #require(cluster.status(newLeader)).raftTerm > oldTerm)
        #expect(cluster.eventually(seconds: 15) { cluster.status(leader)?.leader == 0 }, "the isolated leader did not step down")

        // The minority refuses linearizable reads and writes, as etcd does; a serializable read
        // is still served from its own state.
        let minorityPut = cluster.etcdctl(leader, ["put", "lost", "write"])
        #expect(minorityPut.exitStatus != 0, "\(minorityPut.output)")
        #expect(["no leader", "timed out", "leader changed", "deadline exceeded"].contains { minorityPut.output.contains($0) },
                "\(minorityPut.output)")
        let minorityGet = cluster.etcdctl(leader, ["get", "before"])
        #expect(minorityGet.exitStatus != 0, "\(minorityGet.output)")
        #expect(cluster.etcdctl(leader, ["get", "before", "--consistency=s"]).output == "before\nsplit\n")

        // The majority serves writes and linearizable reads through both its members.
        for index in majority {
            let put = cluster.etcdctl(index, ["put", "during\(index)", "majority"])
            #expect(put.exitStatus == 0 && put.output == "OK\n", "member \(index): \(put.output)")
        }
        for index in majority {
            for key in majority.map({ "during\($0)" }) {
                #expect(cluster.etcdctl(index, ["get", key]).output == "\(key)\nmajority\n", "member \(index), \(key)")
            }
        }

        // Healed: the old leader follows the new one, has the majority's writes, never
        // applied its own lost write, and every member hashes the same key space.
        for index in all { #expect(healPartition(cluster, index) == 200) }
        #expect(cluster.waitForLeader(among: all) == newLeader)
        for key in majority.map({ "during\($0)" }) {
            #expect(cluster.etcdctl(leader, ["get", key]).output == "\(key)\nmajority\n", "old leader, \(key)")
        }
        #expect(cluster.etcdctl(leader, ["get", "lost"]).output == "")
        let revision = try #require(currentRevision(cluster, newLeader))
        var hashes: [UInt64?] = []
        #expect(cluster.eventually(seconds: 15) {
            hashes = all.map { hashKV(cluster, $0, revision: revision) }
            return hashes.allSatisfy { $0 != nil } && Set(hashes).count == 1
        }, "HashKV at revision \(revision): \(hashes)")
    }

    @Test func theSwitchIsUnknownWithoutTheFlagAndChecksItsMembers() throws {
        let keel = try KeelProcess()
        #expect(keel.curl("/debug/peers/heal", body: "").output.contains("404 page not found"))

        let peers: Set<NodeID> = [NodeID(0xa1), NodeID(0xb2)]
        #expect(try PeerFaultEndpoint.members(in: "members=a1,b2", peers: peers).get() == peers)
        #expect(try PeerFaultEndpoint.members(in: "x=1&members=B2", peers: peers).get() == [NodeID(0xb2)])
        for refused in ["members=a1,c3", "members=", "members=a1,,b2", "members=zz", "other=a1", ""] {
            #expect(throws: PeerFaultEndpoint.Problem.self, "\(refused)") { try PeerFaultEndpoint.members(in: Substring(refused), peers: peers).get() }
        }
    }

    /// POSTs the partition switch of member `index`; returns the HTTP status.
    private func switchPartition(_ cluster: KeelCluster, _ index: Int, members: [UInt64]) -> Int {
        post(cluster, index, "/debug/peers/partition?members=" + members.map { String($0, radix: 16) }.joined(separator: ","))
    }

    private func healPartition(_ cluster: KeelCluster, _ index: Int) -> Int { post(cluster, index, "/debug/peers/heal") }

    private func post(_ cluster: KeelCluster, _ index: Int, _ path: String) -> Int {
        let url = "http://\(cluster.members[index].endpoint)\(path)"
        let outcome = Subprocess.run(KeelProcess.curlPath, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", url],
                                     environment: ["PATH=/usr/bin:/bin"])
        return Int(outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    private func currentRevision(_ cluster: KeelCluster, _ index: Int) -> Int64? {
        let outcome = cluster.etcdctl(index, ["get", "before", "-w", "json"])
        guard let object = try? JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [String: Any],
              let header = object["header"] as? [String: Any] else { return nil }
        return (header["revision"] as? NSNumber)?.int64Value
    }

    /// Member `index`'s hash of its key space at `revision`, nil if it cannot answer yet.
    private func hashKV(_ cluster: KeelCluster, _ index: Int, revision: Int64) -> UInt64? {
        let outcome = cluster.etcdctl(index, ["endpoint", "hashkv", "--rev=\(revision)", "-w", "json"])
        guard outcome.exitStatus == 0,
              let list = try? JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [[String: Any]],
              let answer = list.first?["HashKV"] as? [String: Any] else { return nil }
        return (answer["hash"] as? NSNumber)?.uint64Value
    }
}

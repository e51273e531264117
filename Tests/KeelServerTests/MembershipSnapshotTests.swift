#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelTestSupport
import Testing

/// A member added after the cluster compacted its log past the start: it can only catch up
/// by snapshot, and that snapshot must name it in its membership (raft refuses to install a
/// snapshot whose membership lacks the member installing it).
@Suite struct MembershipSnapshotTests {
    @Test func aLearnerAddedAfterCompactionCatchesUpBySnapshotAndIsPromoted() throws {
        let cluster = try KeelCluster(size: 3, extraArguments: ["--snapshot-count", "50", "--experimental-snapshot-catchup-entries", "10"])
        cluster.bench(0, ["put", "--total", "300", "--clients", "4", "--key-size", "8", "--val-size", "16", "--key-space-size", "100"])
        #expect(cluster.etcdctl(1, ["put", "marker", "before-join"]).output == "OK\n")

        let joiner = JoiningMember(name: "m3", in: cluster)
        let add = cluster.etcdctl(2, ["member", "add", "m3", "--learner", "--peer-urls=\(joiner.peerURL)"])
        #expect(add.exitStatus == 0, "\(add.output)")
        let learnerID = try #require(KeelCluster.addedMemberID(add.output), "\(add.output)")
        // Entries after the add: the leader's next snapshot is taken past the conf change.
        cluster.bench(1, ["put", "--total", "120", "--clients", "4", "--key-size", "8", "--val-size", "16", "--key-space-size", "100"])
        try joiner.start(joining: cluster, current: [0, 1, 2])

        let joinerLog = (try? String(contentsOfFile: joiner.logPath, encoding: .utf8)) ?? ""
        #expect(joinerLog.contains("installed snapshot database"), "the learner did not catch up by snapshot:\n\(joinerLog.suffix(3000))")
        #expect(joiner.etcdctl(["get", "marker", "--consistency=s"]).output == "marker\nbefore-join\n")
        #expect(cluster.eventually { cluster.etcdctl(0, ["member", "promote", String(learnerID, radix: 16)]).exitStatus == 0 },
                "promotion refused")
        #expect(joiner.etcdctl(["put", "from-m3", "voter"]).output == "OK\n")
        for index in 0..<3 { #expect(cluster.etcdctl(index, ["get", "from-m3"]).output == "from-m3\nvoter\n", "member \(index)") }
        let listed = try #require(cluster.memberList(0))
        #expect(listed.count == 4 && listed.allSatisfy { !$0.isLearner }, "\(listed)")
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelAPI
import KeelRaft
@testable import KeelServer
import KeelTestSupport
import KeelWAL
import Testing

/// Membership changes as etcd 3.5 makes them, on real keel processes driven by etcdctl:
/// a learner joins (--initial-cluster-state existing), is promoted, and members (a follower,
/// then the leader) are removed and exit 0; several learners at once, promotion refused while
/// a learner lags, peer URL updates, and every member's client URLs in the member list.
@Suite struct MembershipTests {
    @Test func learnerJoinsIsPromotedThenAFollowerAndTheLeaderAreRemoved() throws {
        let cluster = try KeelCluster(size: 3)
        // Every member published its name and client URLs: each one lists all of them.
        for index in 0..<3 {
            let listed = try #require(cluster.memberList(index))
            #expect(listed.count == 3 && listed.allSatisfy { !$0.isLearner }, "\(listed)")
            #expect(Set(listed.map(\.name)) == ["m0", "m1", "m2"], "\(listed)")
            #expect(Set(listed.flatMap(\.clientURLs)) == Set(cluster.members.map { "http://\($0.endpoint)" }), "\(listed)")
        }

        // A learner is added: it shows unstarted (no name) until it runs.
        let joiner = JoiningMember(name: "m3", in: cluster)
        let add = cluster.etcdctl(1, ["member", "add", "m3", "--learner", "--peer-urls=\(joiner.peerURL)"])
        #expect(add.exitStatus == 0, "\(add.output)")
        let learnerID = try #require(KeelCluster.addedMemberID(add.output), "\(add.output)")
        // Members apply the change in their own time: wait for the one asked.
        #expect(cluster.eventually { cluster.memberList(0)?.count == 4 })
        let afterAdd = try #require(cluster.memberList(0))
        let added = try #require(afterAdd.first { $0.id == learnerID }, "\(afterAdd)")
        #expect(afterAdd.count == 4 && added.isLearner && added.name.isEmpty && added.peerURLs == [joiner.peerURL], "\(afterAdd)")
        // Not started, so not in sync: etcd's refusal, through a follower or the leader alike.
        for index in 0..<3 {
            let refused = cluster.etcdctl(index, ["member", "promote", String(learnerID, radix: 16)])
            #expect(refused.exitStatus != 0 && refused.output.contains("can only promote a learner member which is in sync with leader"),
                    "member \(index): \(refused.output)")
        }

        // Writes before it joins reach it by replication.
        for round in 0..<5 { #expect(cluster.etcdctl(round % 3, ["put", "before\(round)", "v\(round)"]).output == "OK\n") }
        try joiner.start(joining: cluster, current: [0, 1, 2])
        let serializable = joiner.etcdctl(["get", "before4", "--consistency=s"])
        #expect(serializable.output == "before4\nv4\n", "\(serializable.output)")
        // A learner serves serializable reads and Status only.
        let learnerPut = joiner.etcdctl(["put", "from-learner", "x"])
        #expect(learnerPut.exitStatus != 0 && learnerPut.output.contains("etcdserver: rpc not supported for learner"), "\(learnerPut.output)")
        // Streams too, on the gateway as well: grpc-gateway's stream error, with the code's status.
        let gatewayWatch = Subprocess.run(KeelProcess.curlPath, ["-s", "-w", " %{http_code}", "--max-time", "10", "-X", "POST",
                                                                 "-d", "{\"create_request\":{\"key\":\"YQ==\"}}", "http://\(joiner.endpoint)/v3/watch"],
                                          environment: ["PATH=/usr/bin:/bin"])
        #expect(gatewayWatch.output == "{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: rpc not supported for learner\",\"http_status\":\"Service Unavailable\"}} 503",
                "\(gatewayWatch.output)")
        #expect(cluster.eventually { cluster.memberList(2)?.first { $0.id == learnerID }?.name == "m3" }, "the learner never published")

        // Caught up: the promotion goes through (from a member that may be a follower).
        #expect(cluster.eventually { cluster.etcdctl(0, ["member", "promote", String(learnerID, radix: 16)]).exitStatus == 0 })
        #expect(cluster.eventually { cluster.memberList(1)?.contains { $0.id == learnerID && !$0.isLearner } == true })
        let promoted = try #require(cluster.memberList(1))
        #expect(promoted.count == 4 && promoted.allSatisfy { !$0.isLearner }, "\(promoted)")
        #expect(joiner.etcdctl(["put", "from-m3", "promoted"]).output == "OK\n")

        // Remove a follower: it exits 0, the others list three members and keep serving.
        let leader = try #require(cluster.waitForLeader(among: [0, 1, 2]))
        let follower = [0, 1, 2].first { $0 != leader }!
        let survivor = [0, 1, 2].first { $0 != leader && $0 != follower }!
        let followerID = try #require(cluster.memberID(follower))
        let remove = cluster.etcdctl(leader, ["member", "remove", String(followerID, radix: 16)])
        #expect(remove.exitStatus == 0, "\(remove.output)")
        #expect(cluster.members[follower].process?.waitForExit(within: 15) == 0, "\(cluster.log(follower).suffix(2000))")
        #expect(cluster.log(follower).contains("the member has been permanently removed from the cluster"))
        #expect(cluster.eventually { cluster.memberList(survivor)?.count == 3 })
        let afterRemove = try #require(cluster.memberList(survivor))
        #expect(afterRemove.count == 3 && !afterRemove.contains { $0.id == followerID }, "\(afterRemove)")
        #expect(cluster.etcdctl(survivor, ["put", "after-follower", "gone"]).output == "OK\n")
        #expect(joiner.etcdctl(["get", "after-follower"]).output == "after-follower\ngone\n")

        // Remove the leader through another member: it hands leadership over and exits 0.
        let leaderID = try #require(cluster.memberID(leader))
        let removeLeader = cluster.etcdctl(survivor, ["member", "remove", String(leaderID, radix: 16)])
        #expect(removeLeader.exitStatus == 0, "\(removeLeader.output)")
        #expect(cluster.members[leader].process?.waitForExit(within: 15) == 0, "\(cluster.log(leader).suffix(2000))")
        let lastTwo = try #require(cluster.memberList(survivor))
        let survivorID = try #require(cluster.memberID(survivor))
        #expect(lastTwo.count == 2 && Set(lastTwo.map(\.id)) == [learnerID, survivorID], "\(lastTwo)")
        #expect(cluster.eventually { cluster.etcdctl(survivor, ["put", "after-leader", "gone"]).output == "OK\n" })
        #expect(joiner.etcdctl(["get", "after-leader"]).output == "after-leader\ngone\n")
        #expect(joiner.etcdctl(["get", "from-m3"]).output == "from-m3\npromoted\n")
    }

    @Test func aMemberStartedAloneGrows() throws {
        let cluster = try KeelCluster(size: 1)
        #expect(cluster.etcdctl(0, ["put", "alone", "1"]).output == "OK\n")
        let joiner = JoiningMember(name: "m1", in: cluster)
        let add = cluster.etcdctl(0, ["member", "add", "m1", "--learner", "--peer-urls=\(joiner.peerURL)"])
        #expect(add.exitStatus == 0, "\(add.output)")
        let learnerID = try #require(KeelCluster.addedMemberID(add.output), "\(add.output)")
        // Still alone in the quorum: writes go on while the learner is away.
        #expect(cluster.etcdctl(0, ["put", "alone", "2"]).output == "OK\n")
        try joiner.start(joining: cluster, current: [0])
        #expect(cluster.eventually { cluster.etcdctl(0, ["member", "promote", String(learnerID, radix: 16)]).exitStatus == 0 })
        #expect(joiner.etcdctl(["put", "together", "yes"]).output == "OK\n")
        #expect(cluster.etcdctl(0, ["get", "together"]).output == "together\nyes\n")
        #expect(joiner.etcdctl(["get", "alone"]).output == "alone\n2\n")
        let listed = try #require(cluster.memberList(0))
        #expect(listed.count == 2 && listed.allSatisfy { !$0.isLearner && !$0.clientURLs.isEmpty }, "\(listed)")
    }

    @Test func twoLearnersPromotionRefusalsAndPeerURLUpdates() throws {
        let cluster = try KeelCluster(size: 3)
        // Two learners at once (etcd allows one; Keel several), neither started.
        var learners: [UInt64] = []
        for port in [freeLoopbackPort(), freeLoopbackPort()] {
            let add = cluster.etcdctl(0, ["member", "add", "learner\(port)", "--learner", "--peer-urls=http://127.0.0.1:\(port)"])
            #expect(add.exitStatus == 0, "\(add.output)")
            if let id = KeelCluster.addedMemberID(add.output) { learners.append(id) }
        }
        #expect(cluster.eventually { cluster.memberList(2)?.count == 5 })
        let listed = try #require(cluster.memberList(2))
        #expect(listed.count == 5 && listed.filter(\.isLearner).map(\.id).sorted() == learners.sorted(), "\(listed)")
        // A linearizable member list (etcd 3.5's MemberListRequest.linearizable; etcdctl 3.4
        // never asks for one), through the gateway of a member that may be a follower.
        let linearizable = Subprocess.run(KeelProcess.curlPath, [
            "-s", "-X", "POST", "-d", #"{"linearizable":true}"#, "http://\(cluster.members[1].endpoint)/v3/cluster/member/list"],
            environment: ["PATH=/usr/bin:/bin"])
        #expect(KeelCluster.parseMemberList(linearizable.output)?.count == 5, "\(linearizable.output)")

        // The same peer URL twice: refused.
        let taken = listed.first { $0.isLearner }!.peerURLs[0]
        let again = cluster.etcdctl(1, ["member", "add", "again", "--learner", "--peer-urls=\(taken)"])
        #expect(again.exitStatus != 0 && again.output.contains("etcdserver: Peer URLs already exists"), "\(again.output)")
        // Promotion: refused for a lagging learner and for a voter.
        let lagging = cluster.etcdctl(1, ["member", "promote", String(learners[0], radix: 16)])
        #expect(lagging.output.contains("etcdserver: can only promote a learner member which is in sync with leader"), "\(lagging.output)")
        let voterID = try #require(cluster.memberID(0))
        let voter = cluster.etcdctl(1, ["member", "promote", String(voterID, radix: 16)])
        #expect(voter.output.contains("etcdserver: can only promote a learner member"), "\(voter.output)")

        // MemberUpdate: a learner moves; a running member gets another spelling of its address
        // (the transport dials it there and the cluster keeps working).
        let moved = "http://127.0.0.1:\(freeLoopbackPort())"
        #expect(cluster.etcdctl(2, ["member", "update", String(learners[1], radix: 16), "--peer-urls=\(moved)"]).exitStatus == 0)
        let m1ID = try #require(cluster.memberID(1))
        let renamed = "http://localhost:\(cluster.members[1].peerPort)"
        let update = cluster.etcdctl(0, ["member", "update", String(m1ID, radix: 16), "--peer-urls=\(renamed)"])
        #expect(update.exitStatus == 0, "\(update.output)")
        for index in 0..<3 {
            let now = cluster.eventually(seconds: 5) {
                let list = cluster.memberList(index) ?? []
                return list.first { $0.id == learners[1] }?.peerURLs == [moved] && list.first { $0.id == m1ID }?.peerURLs == [renamed]
            }
            #expect(now, "member \(index): \(cluster.memberList(index) ?? [])")
        }
        // The others' transports dial m1 at its new address.
        let dialed = "\"remote-peer-address\":\"localhost:\(cluster.members[1].peerPort)\""
        #expect(cluster.eventually(seconds: 10) { [0, 2].allSatisfy { cluster.log($0).contains(dialed) } })

        // The membership survives a stop (read back from the backend, nothing left to replay)
        // and a crash (replayed from the WAL).
        let before = try #require(cluster.memberList(2))
        #expect(cluster.members[2].process?.stop(signal: SIGTERM) == 0)
        try cluster.restart(2)
        #expect(cluster.memberList(2) == before)
        cluster.kill(2)
        try cluster.restart(2)
        #expect(cluster.memberList(2) == before)

        // Learners leave without a quorum check; the cluster serves writes through m1.
        for learner in learners {
            let remove = cluster.etcdctl(0, ["member", "remove", String(learner, radix: 16)])
            #expect(remove.exitStatus == 0, "\(remove.output)")
        }
        #expect(cluster.eventually { cluster.memberList(1)?.count == 3 })
        #expect(cluster.eventually { cluster.etcdctl(1, ["put", "k", "v"]).output == "OK\n" })
        #expect(cluster.etcdctl(2, ["get", "k"]).output == "k\nv\n")

        // A member removed while it is down (etcd's strict check lets a down member go) learns
        // it from its peers when it comes back, and exits 0.
        let m2ID = try #require(cluster.memberID(2))
        #expect(cluster.members[2].process?.stop(signal: SIGTERM) == 0)
        let removeDown = cluster.etcdctl(0, ["member", "remove", String(m2ID, radix: 16)])
        #expect(removeDown.exitStatus == 0, "\(removeDown.output)")
        try? cluster.restart(2)
        #expect(cluster.members[2].process?.waitForExit(within: 15) == 0, "\(cluster.log(2).suffix(2000))")
        #expect(cluster.log(2).contains("the member has been permanently removed from the cluster"))
        #expect(cluster.memberList(0)?.count == 2)
        #expect(cluster.etcdctl(1, ["put", "k", "v2"]).output == "OK\n")
    }
}

/// The pieces without processes: the conf change context, etcd's arithmetic and validation.
@Suite struct MembershipUnitTests {
    private func member(_ id: UInt64, _ name: String, learner: Bool = false, peer: String? = nil) -> Etcdserverpb_Member {
        var member = Etcdserverpb_Member()
        member.id = id
        member.name = name
        member.peerUrls = [peer ?? "http://10.0.0.\(id):2380"]
        member.isLearner = learner
        return member
    }

    @Test func memberChangeContextRoundTrips() throws {
        var added = member(0xabc, "", learner: true)
        added.clientUrls = ["http://10.0.0.9:2379"]
        for change in [MemberChange(kind: .addLearnerNode, requestID: 7, member: added),
                       MemberChange(kind: .addNode, requestID: .max, isPromote: true, member: member(5, "")),
                       MemberChange(kind: .removeNode, requestID: 0, member: member(6, "")),
                       MemberChange(kind: .updateNode, requestID: 1 << 40, member: member(7, "x"))] {
            let entry = change.confChange.encoded()
            let decoded = try #require(ConfChange(decoding: entry).flatMap(MemberChange.init))
            #expect(decoded == change)
        }
        var wrongID = MemberChange(kind: .removeNode, requestID: 1, member: member(6, "")).confChange
        wrongID.nodeID = NodeID(9)
        #expect(MemberChange(wrongID) == nil)
        #expect(MemberChange(ConfChange(kind: .removeNode, nodeID: NodeID(1), context: [2, 0] + Array(repeating: 0, count: 8))) == nil)
    }

    @Test func strictReconfigurationArithmetic() {
        func cluster(started: Int, unstarted: Int, learners: Int = 0) -> ClusterMembership {
            var members: [Etcdserverpb_Member] = []
            for index in 0..<started { members.append(member(UInt64(index + 1), "m\(index)")) }
            for index in 0..<unstarted { members.append(member(UInt64(100 + index), "")) }
            for index in 0..<learners { members.append(member(UInt64(200 + index), "", learner: true)) }
            return ClusterMembership(clusterID: 1, members: members)
        }
        #expect(cluster(started: 1, unstarted: 0).isReadyToAddVoter)  // one grows to two
        #expect(!cluster(started: 1, unstarted: 1).isReadyToAddVoter)  // 1 of 3 started
        #expect(cluster(started: 3, unstarted: 0).isReadyToAddVoter)
        #expect(!cluster(started: 3, unstarted: 2).isReadyToAddVoter)  // 3 of 6 started
        #expect(cluster(started: 3, unstarted: 1).isReadyToAddVoter)  // 3 of 5
        #expect(cluster(started: 2, unstarted: 0, learners: 3).isReadyToAddVoter)  // learners do not count
        #expect(cluster(started: 3, unstarted: 0).isReadyToRemoveVoter(1))
        #expect(!cluster(started: 2, unstarted: 1).isReadyToRemoveVoter(1))  // 1 of 2 left started
        #expect(cluster(started: 2, unstarted: 1).isReadyToRemoveVoter(100))
        #expect(cluster(started: 2, unstarted: 1).isReadyToPromote)  // 3 of 4 with the learner
        #expect(!cluster(started: 1, unstarted: 2).isReadyToPromote)  // 2 of 4
        #expect(ClusterService.isInSync(learnerMatch: 90, leaderMatch: 100))
        #expect(!ClusterService.isInSync(learnerMatch: 89, leaderMatch: 100))
        #expect(!ClusterService.isInSync(learnerMatch: 0, leaderMatch: 12))
    }

    @Test func changesAreValidatedAndAppliedAsEtcdDoes() {
        var membership = ClusterMembership(clusterID: 1, members: [member(1, "a"), member(2, "b"), member(3, "", learner: true)])
        #expect(membership.refusal(for: MemberChange(kind: .addNode, requestID: 0, member: member(1, ""))) == .memberExists)
        #expect(membership.refusal(for: MemberChange(kind: .addLearnerNode, requestID: 0, member: member(9, "", peer: "http://10.0.0.2:2380")))
            == .peerURLExists)
        #expect(membership.refusal(for: MemberChange(kind: .addNode, requestID: 0, isPromote: true, member: member(2, ""))) == .memberNotLearner)
        #expect(membership.refusal(for: MemberChange(kind: .removeNode, requestID: 0, member: member(8, ""))) == .memberNotFound)
        // A second learner is fine.
        let second = MemberChange(kind: .addLearnerNode, requestID: 0, member: member(4, "", learner: true))
        #expect(membership.refusal(for: second) == nil)
        membership.apply(second)
        let promote = MemberChange(kind: .addNode, requestID: 0, isPromote: true, member: member(3, ""))
        #expect(membership.refusal(for: promote) == nil)
        membership.apply(promote)
        #expect(membership.confState == ConfState(voters: [NodeID(1), NodeID(2), NodeID(3)], learners: [NodeID(4)]))
        membership.apply(MemberChange(kind: .removeNode, requestID: 0, member: member(2, "")))
        #expect(membership.refusal(for: MemberChange(kind: .addNode, requestID: 0, member: member(2, "", peer: "http://x:1"))) == .memberNotFound)
        var update = member(1, "")
        update.peerUrls = ["http://10.0.0.3:2380"]
        #expect(membership.refusal(for: MemberChange(kind: .updateNode, requestID: 0, member: update)) == .peerURLExists)
        update.peerUrls = ["http://new:2380"]
        membership.apply(MemberChange(kind: .updateNode, requestID: 0, member: update))
        #expect(membership.member(id: 1)?.peerUrls == ["http://new:2380"] && membership.member(id: 1)?.name == "a")
    }

    @Test func raftLogStoreKnowsTheMembershipAtEachIndex() throws {
        let directory = TemporaryDirectory("keel-membership")
        defer { directory.remove() }
        let first = ConfState(voters: [NodeID(1), NodeID(2), NodeID(3)])
        let log = try RaftLogStore(directory: directory.path + "/wal", options: WALOptions(), confState: first)
        defer { _ = log.wal.close() }
        let learner = ConfState(voters: [NodeID(1), NodeID(2), NodeID(3)], learners: [NodeID(4)])
        let promoted = ConfState(voters: [NodeID(1), NodeID(2), NodeID(3), NodeID(4)])
        log.noteConfState(learner, at: KeelRaft.LogIndex(5))
        log.noteConfState(promoted, at: KeelRaft.LogIndex(9))
        #expect(log.confState(at: KeelRaft.LogIndex(4)) == first)
        #expect(log.confState(at: KeelRaft.LogIndex(5)) == learner)
        #expect(log.confState(at: KeelRaft.LogIndex(8)) == learner)
        #expect(log.confState(at: KeelRaft.LogIndex(9)) == promoted)
        #expect(log.confState(at: KeelRaft.LogIndex(100)) == promoted)
    }
}

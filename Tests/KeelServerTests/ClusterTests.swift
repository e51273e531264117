#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelTestSupport
import Testing

/// Three real keel processes on loopback forming one cluster over the peer transport, driven
/// with the real etcdctl: writes through every member, linearizable reads from every member,
/// one leader, and a leader killed with SIGKILL.
@Suite struct ClusterTests {
    @Test func threeMembersServeAndSurviveTheLeadersCrash() throws {
        let cluster = try KeelCluster(size: 3)
        let all = [0, 1, 2]

        let list = cluster.etcdctl(0, ["member", "list"])
        #expect(list.exitStatus == 0, "\(list.output)")
        let listed = list.output.split(separator: "\n")
        #expect(listed.count == 3 && ["m0", "m1", "m2"].allSatisfy { name in listed.contains { $0.contains(", \(name), ") } },
                "\(list.output)")

        // A put through each member (two of them followers: raft forwards the proposal), read
        // back linearizably (ReadIndex, forwarded to the leader by followers) from every member.
        var acknowledged: [(key: String, value: String)] = []
        for index in all {
            let put = cluster.etcdctl(index, ["put", "key\(index)", "value\(index)"])
            #expect(put.exitStatus == 0 && put.output == "OK\n", "member \(index): \(put.output)")
            if put.output == "OK\n" { acknowledged.append(("key\(index)", "value\(index)")) }
        }
        expectReadable(acknowledged, from: all, in: cluster)

        // One leader, and every member names it.
        let leader = try #require(cluster.waitForLeader(among: all), "no agreed leader")
        let statuses = all.compactMap { cluster.status($0) }
        #expect(statuses.count == 3 && statuses.filter { $0.member == $0.leader }.count == 1, "\(statuses)")
        // A watch on a follower sees the writes made through the leader, in order.
        let follower = all.first { $0 != leader }!
        // From the next revision on, so no put goes unseen however late the watch starts.
        let revision = try #require(cluster.keySpace(leader)).revision
        let watch = try WatchCommand(endpoint: cluster.members[follower].endpoint, ["watch", "watched", "--prefix", "--rev", String(revision + 1)])
        for round in 0..<3 {
            let put = cluster.etcdctl(leader, ["put", "watched\(round)", "on-leader\(round)"])
            #expect(put.output == "OK\n", "\(put.output)")
        }
        let events = watch.waitForOutput(count: 3, of: "PUT")
        #expect(events == (0..<3).map { "PUT\nwatched\($0)\non-leader\($0)\n" }.joined(), "\(events)")
        let oldLeaderID = try #require(cluster.status(leader)).member
        let oldTerm = try #require(cluster.status(leader)).raftTerm
        // The leader timed the round trips of its appends to the followers (the replication
        // stage of /debug/latency); a follower sends no appends.
        let replicationCounts = all.map { index -> Int in
            let url = "http://\(cluster.members[index].endpoint)/debug/latency"
            let body = Subprocess.run(KeelProcess.curlPath, ["-s", url], environment: ["PATH=/usr/bin:/bin"]).output
            return latencyStageCounts(body)["replication"] ?? -1
        }
        #expect(replicationCounts[leader] > 0 && replicationCounts.enumerated().allSatisfy { $0.offset == leader || $0.element == 0 },
                "\(replicationCounts)")

        // Writes right up to the crash, through the leader and the followers alike.
        for round in 0..<9 {
            let index = all[round % 3]
            let put = cluster.etcdctl(index, ["put", "before\(round)", "crash\(round)"])
            #expect(put.exitStatus == 0 && put.output == "OK\n", "member \(index): \(put.output)")
            if put.output == "OK\n" { acknowledged.append(("before\(round)", "crash\(round)")) }
        }

        // kill -9 the leader: the other two elect a new one (well within 15 s, three election
        // timeouts being 3 s), every acknowledged write is still there, and writes go on.
        cluster.kill(leader)
        let killed = Date()
        let survivors = all.filter { $0 != leader }
        let newLeader = try #require(cluster.waitForLeader(among: survivors, excluding: oldLeaderID), "no new leader")
        // Reported, not asserted (no timing asserts): the polls of `endpoint status` add to it.
        print("ClusterTests: both survivors named a new leader \(Int(Date().timeIntervalSince(killed) * 1000)) ms after kill -9 of the leader (election timeout 1000 ms)")
        let newStatus = try #require(cluster.status(newLeader))
        #expect(newStatus.raftTerm > oldTerm, "\(newStatus) after term \(oldTerm)")
        expectReadable(acknowledged, from: survivors, in: cluster)
        for index in survivors {
            let put = cluster.etcdctl(index, ["put", "after\(index)", "crash\(index)"])
            #expect(put.exitStatus == 0 && put.output == "OK\n", "member \(index): \(put.output)")
            if put.output == "OK\n" { acknowledged.append(("after\(index)", "crash\(index)")) }
        }
        expectReadable(acknowledged, from: survivors, in: cluster)

        // The old leader comes back as a follower of the new one and serves everything.
        try cluster.restart(leader)
        #expect(cluster.waitForLeader(among: all) == newLeader)
        expectReadable(acknowledged, from: [leader], in: cluster)
        let serializable = cluster.etcdctl(leader, ["get", "after\(survivors[0])", "--consistency=s"])
        // Served locally, after the linearizable reads above made it catch up.
        #expect(serializable.output == "after\(survivors[0])\ncrash\(survivors[0])\n", "\(serializable.output)")
    }

    private func expectReadable(_ pairs: [(key: String, value: String)], from members: [Int], in cluster: KeelCluster,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        for index in members {
            for (key, value) in pairs {
                let get = cluster.etcdctl(index, ["get", key])
                #expect(get.exitStatus == 0 && get.output == "\(key)\n\(value)\n", "member \(index), \(key): \(get.output)",
                        sourceLocation: sourceLocation)
            }
        }
    }
}

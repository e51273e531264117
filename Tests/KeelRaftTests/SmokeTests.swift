import Testing
@testable import KeelRaft

@Suite struct SmokeTests {
    @Test func threeNodesElectAndCommit() {
        let cluster = Cluster.voters(3)
        cluster.node(NodeID(1)).campaign()
        cluster.stabilize()
        #expect(cluster.node(NodeID(1)).isLeader)
        #expect(cluster.node(NodeID(1)).propose(Array("x".utf8)).refusal == nil)
        cluster.stabilize()
        for id in cluster.ids {
            #expect(cluster.members[id]!.applied.map(\.data).last == Array("x".utf8), "node \(id)")
        }
    }
}

import KeelAPI
import KeelRaft
import NIOCore

/// etcd's checks before a membership change is proposed (its strict reconfiguration check,
/// on by default), so a change that would cost the cluster its quorum is refused up front.
///
/// "Connected" is the peer transport's messages connection being up now; etcd asks for a
/// connection up for at least five seconds, which would refuse changes for five seconds after
/// every start.
extension ClusterService {
    /// etcd's mayAddMember: a voter may join only while the started voters stay a quorum,
    /// and any member only while this member reaches a quorum of the voters plus the new one.
    func addRefusal(isLearner: Bool) -> EtcdError? {
        let membership = node.membership.membership
        if !isLearner && !membership.isReadyToAddVoter { return .memberNotEnoughStarted }
        let voters = membership.members.filter { !$0.isLearner }
        guard voters.count > 1 else { return nil }
        return connectedVoters(voters) >= (voters.count + 1) / 2 + 1 ? nil : .unhealthy
    }

    /// etcd's mayRemoveMember: a learner may always go; a voter only while the other started
    /// voters stay a quorum, and (unless it is down already) while this member stays
    /// connected to a quorum of the voters left.
    func removeRefusal(_ id: UInt64) -> EtcdError? {
        let membership = node.membership.membership
        guard let member = membership.member(id: id) else { return .memberNotFound }
        if member.isLearner { return nil }
        if !membership.isReadyToRemoveVoter(id) { return .memberNotEnoughStarted }
        if id != node.memberID, let peers = node.peers, !peers.isConnected(to: NodeID(id)) { return nil }
        let voters = membership.members.filter { !$0.isLearner }
        return connectedVoters(voters) - 1 < 1 + (voters.count - 1) / 2 ? .unhealthy : nil
    }

    /// etcd's mayPromoteMember, on the leader: the learner's log must have reached 90% of the
    /// leader's, and the started voters with the learner must stay a quorum.
    func promoteRefusal(_ id: UInt64, status: Status) -> EtcdError? {
        guard let learner = status.progress[NodeID(id)] else { return .memberNotFound }
        let leaderMatch = status.progress[status.id]?.match.rawValue ?? status.lastIndex.rawValue
        if !Self.isInSync(learnerMatch: learner.match.rawValue, leaderMatch: leaderMatch) { return .learnerNotReady }
        return node.membership.membership.isReadyToPromote ? nil : .memberNotEnoughStarted
    }

    /// etcd's readiness rule for a learner's promotion.
    static func isInSync(learnerMatch: UInt64, leaderMatch: UInt64) -> Bool {
        Double(learnerMatch) >= Double(leaderMatch) * 0.9
    }

    private func connectedVoters(_ voters: [Etcdserverpb_Member]) -> Int {
        voters.filter { $0.id == node.memberID || node.peers?.isConnected(to: NodeID($0.id)) == true }.count
    }

    /// A follower cannot see the learner's progress: like etcd, it hands the promotion to the
    /// leader, here as the same gRPC call to the leader's advertised client URL (etcd uses
    /// its peer URL). No leader, or one whose client URLs are unknown: "no leader".
    func forwardPromote(_ request: Etcdserverpb_MemberPromoteRequest, leader: NodeID, on eventLoop: any EventLoop,
                        _ reply: GRPCReply<Etcdserverpb_MemberPromoteResponse>) {
        let urls = node.membership.membership.member(id: leader.rawValue)?.clientUrls ?? []
        guard leader != .none, leader.rawValue != node.memberID,
              let address = urls.lazy.compactMap(PeerAddress.init(url:)).first else {
            return reply.fail(EtcdError.noLeader.status)
        }
        let timeout = TimeAmount.nanoseconds(Int64(node.options.requestTimeoutNanoseconds))
        GRPCClient.connect(host: address.host, port: address.port, group: eventLoop).whenComplete { connected in
            switch connected {
            case .failure: reply.fail(EtcdError.noLeader.status)
            case .success(let client):
                let call: EventLoopFuture<Etcdserverpb_MemberPromoteResponse> =
                    client.unary("/etcdserverpb.Cluster/MemberPromote", request, timeout: timeout)
                call.whenComplete { _ in _ = client.close() }
                call.whenSuccess { reply.succeed($0) }
                call.whenFailure { error in reply.fail(error as? GRPCStatus ?? EtcdError.noLeader.status) }
            }
        }
    }
}

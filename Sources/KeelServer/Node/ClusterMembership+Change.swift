import KeelAPI
import KeelMVCC
import KeelRaft
import KeelStorage
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Membership changes, as etcd's cluster validates and applies them. The same decision is
/// made by the raft loop (whether raft applies the change) and by the apply loop (whether the
/// stored membership changes): both start from the membership at the same applied index and
/// see the same committed changes in order, so they agree.
extension ClusterMembership {
    /// Why a committed change does not apply to this membership (etcd's
    /// ValidateConfigurationChange), if it does not. Keel allows any number of learners.
    func refusal(for change: MemberChange) -> EtcdError? {
        let id = change.member.id
        if removed.contains(id) { return .memberNotFound }
        let existing = members.first { $0.id == id }
        switch change.kind {
        case .addNode, .addLearnerNode:
            if change.isPromote {
                guard let existing else { return .memberNotFound }
                return existing.isLearner ? nil : .memberNotLearner
            }
            if existing != nil { return .memberExists }
            let known = Set(members.flatMap(\.peerUrls))
            return change.member.peerUrls.contains(where: known.contains) ? .peerURLExists : nil
        case .removeNode:
            return existing == nil ? .memberNotFound : nil
        case .updateNode:
            guard existing != nil else { return .memberNotFound }
            let others = Set(members.filter { $0.id != id }.flatMap(\.peerUrls))
            return change.member.peerUrls.contains(where: others.contains) ? .peerURLExists : nil
        }
    }

    /// Applies a change `refusal(for:)` accepted.
    mutating func apply(_ change: MemberChange) {
        let id = change.member.id
        switch change.kind {
        case .addNode where change.isPromote:
            if let index = members.firstIndex(where: { $0.id == id }) { members[index].isLearner = false }
        case .addNode, .addLearnerNode:
            var member = change.member
            member.isLearner = change.kind == .addLearnerNode
            members.append(member)
        case .removeNode:
            members.removeAll { $0.id == id }
            removed.append(id)
        case .updateNode:
            if let index = members.firstIndex(where: { $0.id == id }) { members[index].peerUrls = change.member.peerUrls }
        }
    }

    /// Records a member's name and client URLs (etcd's published attributes); false when the
    /// member is not (or no longer) in the cluster.
    mutating func setAttributes(of member: Etcdserverpb_Member) -> Bool {
        guard let index = members.firstIndex(where: { $0.id == member.id }) else { return false }
        members[index].name = member.name
        members[index].clientUrls = member.clientUrls
        return true
    }

    /// raft's view of the membership.
    var confState: ConfState {
        ConfState(voters: members.filter { !$0.isLearner }.map { NodeID($0.id) },
                  learners: members.filter(\.isLearner).map { NodeID($0.id) })
    }

    func member(id: UInt64) -> Etcdserverpb_Member? { members.first { $0.id == id } }

    // MARK: Strict reconfiguration (etcd's --strict-reconfig-check, on by default)

    /// A member has started once it published its name.
    private var startedVoters: Int { members.filter { !$0.isLearner && !$0.name.isEmpty }.count }
    private var voterCount: Int { members.filter { !$0.isLearner }.count }

    /// Whether a voter may join: the started voters must stay a quorum of the voters plus the
    /// new one. A one-member cluster may always grow to two (etcd allows it for restoring a
    /// cluster from one member's data).
    var isReadyToAddVoter: Bool {
        Self.startedKeepQuorum(started: startedVoters, voters: voterCount + 1) || (startedVoters == 1 && voterCount == 1)
    }

    /// Whether voter `id` may leave: the other started voters must be a quorum of the others.
    func isReadyToRemoveVoter(_ id: UInt64) -> Bool {
        let others = members.filter { !$0.isLearner && $0.id != id }
        return Self.startedKeepQuorum(started: others.filter { !$0.name.isEmpty }.count, voters: others.count)
    }

    /// Whether a learner may become a voter, counting it as started.
    var isReadyToPromote: Bool { Self.startedKeepQuorum(started: startedVoters + 1, voters: voterCount + 1) }

    static func startedKeepQuorum(started: Int, voters: Int) -> Bool { started >= voters / 2 + 1 }

    // MARK: Storing

    /// Writes member `id` as this membership has it (deleted when removed, then marked in the
    /// `members_removed` bucket, as etcd marks it) into the store's open write transaction;
    /// it commits with the entry that changed it.
    func saveMember(_ id: UInt64, in store: KVStore) throws(StorageError) {
        let transaction = try store.storageTransaction()
        let key = Array(String(id, radix: 16).utf8)
        if let member = member(id: id) {
            try transaction.put(Self.membersBucket, key, try! member.serializedBytes())
        } else {
            try transaction.delete(Self.membersBucket, key)
        }
        if removed.contains(id) {
            try transaction.createBucket(Self.removedBucket)
            try transaction.put(Self.removedBucket, key, [])
        }
    }
}

extension ClusterMembership {
    /// The membership of the running cluster this new member joins, from the first member of
    /// --initial-cluster (other than itself) that answers (etcd's GET /members of a peer);
    /// tried for up to ten seconds. The member must have been added (MemberAdd) first.
    static func fetch(_ options: NodeOptions, group: (any EventLoopGroup)?, logger: ServerLogger) throws(NodeStartError) -> ClusterMembership {
        guard let group else { throw .configuration("joining an existing cluster needs an event loop group for the peers") }
        let own = Set(options.peerURLs)
        let addresses = options.initialCluster.filter { $0.name != options.name }
            .flatMap(\.peerURLs).filter { !own.contains($0) }.compactMap(PeerAddress.init(url:))
        guard !addresses.isEmpty else { throw .configuration("--initial-cluster names no other member to join through") }
        for attempt in 0..<20 {
            for address in addresses {
                guard let answer = try? PeerTransport.fetch(address: address, method: .members, group: group, timeout: .seconds(2)).wait(),
                      let list = try? Etcdserverpb_MemberListResponse(serializedBytes: answer.payload),
                      list.header.clusterID != 0, !list.members.isEmpty else { continue }
                let membership = ClusterMembership(clusterID: list.header.clusterID, members: list.members)
                guard membership.local(options) != nil else {
                    throw .configuration("member \(options.name) with peer URLs \(options.peerURLs.joined(separator: ",")) is not in the cluster \(hex(list.header.clusterID)); add it with MemberAdd first")
                }
                logger.info("fetched the membership of the cluster to join", .string("cluster-id", hex(list.header.clusterID)),
                            .string("from", "\(address)"), .int("members", Int64(list.members.count)))
                return membership
            }
            if attempt < 19 { usleep(500_000) }
        }
        throw .configuration("cannot fetch the cluster's membership from the peers in --initial-cluster")
    }
}

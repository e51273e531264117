import KeelAPI
import KeelMVCC
import KeelStorage
import Synchronization

/// The membership in force as the apply loop has applied it: what MemberList answers, kept in
/// the backend with every change (in the write transaction of the entry that made it, so a
/// restart finds the membership of the applied index).
///
/// Changed only on the apply loop's thread; read from any.
final class MembershipKeeper: Sendable {
    private let current: Mutex<ClusterMembership>
    let localID: UInt64
    /// Called once this member applied its own removal; `removed` says it did.
    private let removedCallbacks: Mutex<(removed: Bool, callbacks: [@Sendable () -> Void])> = Mutex((false, []))

    init(_ membership: ClusterMembership, localID: UInt64) {
        current = Mutex(membership)
        self.localID = localID
    }

    var membership: ClusterMembership { current.withLock { $0 } }
    var members: [Etcdserverpb_Member] { current.withLock { $0.members } }

    /// Calls `body` once this member has applied its own removal (at once if it has): on the
    /// apply loop's thread, so it must return quickly.
    func onRemoved(_ body: @escaping @Sendable () -> Void) {
        let removed = removedCallbacks.withLock { state in
            if !state.removed { state.callbacks.append(body) }
            return state.removed
        }
        if removed { body() }
    }

    var isRemoved: Bool { removedCallbacks.withLock { $0.removed } }

    /// Applies a committed conf change entry's member change (or refuses it as etcd's cluster
    /// does, changing nothing) and records it in `store`'s write transaction.
    func apply(_ change: MemberChange, in store: KVStore) throws(StorageError) -> AppliedOutcome {
        var next = membership
        if let refusal = next.refusal(for: change) { return .failed(refusal) }
        next.apply(change)
        try next.saveMember(change.member.id, in: store)
        current.withLock { $0 = next }
        if change.kind == .removeNode && change.member.id == localID { becomeRemoved() }
        return .members(next.members)
    }

    /// A peer refused this member as removed: it missed the entry removing it (down, or cut
    /// off, when it committed), and stops as if it had applied it. From any thread.
    func removedByPeers() { becomeRemoved() }

    /// Calls the removal callbacks, once.
    private func becomeRemoved() {
        let callbacks = removedCallbacks.withLock { state -> [@Sendable () -> Void] in
            guard !state.removed else { return [] }
            state.removed = true
            return state.callbacks
        }
        for callback in callbacks { callback() }
    }

    /// Replaces the membership with one read back from a backend that a snapshot replaced
    /// (on the apply loop's thread, as every change).
    func reload(_ stored: ClusterMembership) {
        current.withLock { $0 = stored }
    }

    /// Applies a member's published name and client URLs (ignored for a member not in the
    /// cluster, as etcd ignores an update for a removed one).
    func apply(attributes member: Etcdserverpb_Member, in store: KVStore) throws(StorageError) -> AppliedOutcome {
        var next = membership
        guard next.setAttributes(of: member) else { return .failed(.memberNotFound) }
        try next.saveMember(member.id, in: store)
        current.withLock { $0 = next }
        return .members(next.members)
    }
}

extension MembershipKeeper {
    /// The answer to a peer's `members` request (a joiner's fetch, etcd's GET /members): an
    /// `etcdserverpb.MemberListResponse` whose header carries the cluster id and this member's.
    func memberListPayload(clusterID: UInt64, localID: UInt64) -> [UInt8] {
        var list = Etcdserverpb_MemberListResponse()
        list.header.clusterID = clusterID
        list.header.memberID = localID
        list.members = members
        // proto3 messages without required fields always serialize.
        return try! list.serializedBytes()
    }
}

import KeelIO
import KeelRaft

/// The raft loop's side of membership changes: every committed conf change entry is applied
/// to raft when the loop hands it to the apply loop (raft requires each one applied, and
/// applying it before `advance` means raft never takes a second change while the first is
/// not in force), and the peer transport follows.
///
/// The loop keeps its own copy of the membership to decide, as etcd's cluster does, whether
/// a committed change applies at all (adding a member that exists, promoting a voter...): the
/// apply loop decides the same on the stored membership, from the same applied index.
///
/// Thread: the raft loop's.
final class RaftMembership {
    private var membership: ClusterMembership
    private let localID: NodeID
    /// Removed members still reachable until the deadline (monotonic nanoseconds): the
    /// appends that carry the removal's commit index to a removed follower went out in the
    /// Ready that committed it, and must not be dropped from the transport's queue.
    private var leaving: [(member: NodeID, until: UInt64)] = []
    /// How long a removed member stays in the transport.
    static let leavingNanoseconds: UInt64 = 2_000_000_000

    init(_ membership: ClusterMembership, localID: NodeID) {
        self.membership = membership
        self.localID = localID
    }

    /// Applies the conf changes among `entries` (committed, in order) to `node`, notes the
    /// membership in force in `log` and tells the transport.
    func committed(_ entries: [Entry], node: RawNode, log: RaftLogStore, peers: PeerTransport?,
                   onEvent: (LogLevel, String, [(String, String)]) -> Void) {
        for entry in entries where entry.kind == .confChange {
            guard let confChange = ConfChange(decoding: entry.data), let change = MemberChange(confChange) else {
                preconditionFailure("raft entry \(entry.index) is not a membership change this Keel can apply")
            }
            if let refusal = membership.refusal(for: change) {
                // Normal for a joiner: it starts with the membership it fetched, which already
                // holds the changes it replays from the start of the log.
                onEvent(.info, "ignored a committed membership change", [
                    ("change", "\(confChange)"), ("index", String(entry.index.rawValue)), ("reason", refusal.message)])
                continue
            }
            membership.apply(change)
            let confState = node.applyConfChange(confChange)
            log.noteConfState(confState, at: entry.index)
            onEvent(.info, "applied a membership change", [("change", "\(confChange)"), ("index", String(entry.index.rawValue)),
                                                          ("conf-state", "\(confState)")])
            guard let peers, confChange.nodeID != localID else { continue }
            switch change.kind {
            case .addNode, .addLearnerNode, .updateNode:
                let member = membership.member(id: change.member.id)
                if let address = member?.peerUrls.lazy.compactMap(PeerAddress.init(url:)).first {
                    peers.setPeer(confChange.nodeID, address: address)
                }
            case .removeNode:
                peers.markRemoved(confChange.nodeID)
                leaving.append((confChange.nodeID, MonotonicClock.nanoseconds() + Self.leavingNanoseconds))
            }
        }
    }

    /// Starts again from `membership`: the one a snapshot installed on this member holds (raft
    /// took the snapshot's conf state itself). The transport follows: the members it names are
    /// peers (at their first http peer URL), no other.
    func reset(to membership: ClusterMembership, peers: PeerTransport?) {
        self.membership = membership
        guard let peers else { return }
        let kept = Set(membership.members.map(\.id))
        for peer in peers.peers where !kept.contains(peer.rawValue) { peers.setPeer(peer, address: nil) }
        for member in membership.members where member.id != localID.rawValue {
            if let address = member.peerUrls.lazy.compactMap(PeerAddress.init(url:)).first {
                peers.setPeer(NodeID(member.id), address: address)
            }
        }
    }

    /// Whether the membership in force has a member other than this one (a member started
    /// alone has none until one is added).
    var hasOtherMembers: Bool { membership.members.contains { $0.id != localID.rawValue } }

    /// Takes removed members whose grace time is over out of the transport.
    func dropLeavers(now: UInt64, peers: PeerTransport?) {
        guard !leaving.isEmpty else { return }
        for gone in leaving where gone.until <= now { peers?.setPeer(gone.member, address: nil) }
        leaving.removeAll { $0.until <= now }
    }
}

import KeelRaft
import NIOCore

extension KeelNode {
    /// The transport to the other members: it listens on the first http URL of
    /// --listen-peer-urls, calls every other member at the first http URL of its peer URLs, and
    /// hands what arrives to `raft`'s mailbox (messages, reports), so the event-loop threads it
    /// runs on never wait for the raft thread. A member alone has one too (as etcd listens on
    /// its peer URLs), so members can be added to it; without a group or an http peer URL to
    /// listen on, it has none (nil) and stays alone.
    ///
    /// A peer refusing this member as removed (it missed its own removal, being down or cut
    /// off) goes to `keeper`, which stops the member as if it had applied the removal.
    static func makePeerTransport(_ options: NodeOptions, membership: ClusterMembership, memberID: UInt64, raft: RaftLoop,
                                  keeper: MembershipKeeper, group: (any EventLoopGroup)?,
                                  logger: ServerLogger) throws(NodeStartError) -> PeerTransport? {
        let others = membership.members.filter { $0.id != memberID }
        guard let group else {
            if others.isEmpty { return nil }
            throw .configuration("a member of a \(membership.members.count)-member cluster needs an event loop group for its peers")
        }
        guard let listen = options.listenPeerURLs.lazy.compactMap(PeerAddress.init(url:)).first else {
            if others.isEmpty { return nil }
            throw .configuration("no http URL to listen for peers on in --listen-peer-urls \(options.listenPeerURLs.joined(separator: ","))")
        }
        var peers: [NodeID: PeerAddress] = [:]
        for member in others {
            guard let address = member.peerUrls.lazy.compactMap(PeerAddress.init(url:)).first else {
                throw .configuration("member \(member.name) (\(hex(member.id))) has no http peer URL: \(member.peerUrls.joined(separator: ","))")
            }
            peers[NodeID(member.id)] = address
        }
        var configuration = PeerTransportConfiguration(clusterID: membership.clusterID, localMember: NodeID(memberID),
                                                       listen: listen, peers: peers)
        configuration.seed = memberID ^ options.unixMilliseconds
        configuration.snapshotDirectory = options.snapDirectory
        let mailbox = raft.mailbox
        let transport = PeerTransport(
            configuration: configuration, group: group,
            deliver: { messages in mailbox.post(.step(messages)) },
            report: { report in
                if report == .removed { keeper.removedByPeers() } else { mailbox.post(.peerReport(report)) }
            },
            log: { level, message, fields in logger.log(level, message, fields, caller: "peer") })
        for removed in membership.removed { transport.markRemoved(NodeID(removed)) }
        return transport
    }
}

extension KeelNode {
    /// Answers the other members' peer requests (PeerTransport+Requests.swift): the leader's
    /// side of forwarded keepalives and TimeToLive calls (LeaseService+Forwarding.swift), and
    /// the member list for a member joining the cluster.
    /// Installed once the node exists; a request that comes earlier is answered with an error
    /// and asked again by its caller.
    func servePeerRequests() {
        // Weak: the transport (and this handler) must not keep a stopped node alive.
        peers?.setRequestHandler { [weak self] call, payload in
            guard let self, !stopped.load(ordering: .relaxed) else { return call.eventLoop.makeFailedFuture(EtcdError.stopped) }
            switch call.method {
            case .leaseRenew: return LeaseService(node: self).serveRenew(payload, on: call.eventLoop)
            case .leaseTimeToLive: return LeaseService(node: self).serveTimeToLive(payload, on: call.eventLoop)
            // A joiner's fetch (etcd's GET /members of a peer).
            case .members: return call.eventLoop.makeSucceededFuture(membership.memberListPayload(clusterID: clusterID, localID: memberID))
            }
        }
    }
}

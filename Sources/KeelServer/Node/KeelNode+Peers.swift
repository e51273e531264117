import KeelRaft
import NIOCore

extension KeelNode {
    /// The transport to the other members, or nil in a one-member cluster: it listens on the
    /// first http URL of --listen-peer-urls, calls every other member at the first http URL of
    /// its peer URLs, and hands what arrives to `raft`'s mailbox (messages, reports), so the
    /// event-loop threads it runs on never wait for the raft thread.
    static func makePeerTransport(_ options: NodeOptions, membership: ClusterMembership, memberID: UInt64, raft: RaftLoop,
                                  group: (any EventLoopGroup)?, logger: ServerLogger) throws(NodeStartError) -> PeerTransport? {
        let others = membership.members.filter { $0.id != memberID }
        guard !others.isEmpty else { return nil }
        guard let group else {
            throw .configuration("a member of a \(membership.members.count)-member cluster needs an event loop group for its peers")
        }
        guard let listen = options.listenPeerURLs.lazy.compactMap(PeerAddress.init(url:)).first else {
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
        return PeerTransport(
            configuration: configuration, group: group,
            deliver: { messages in mailbox.post(.step(messages)) },
            report: { report in mailbox.post(.peerReport(report)) },
            log: { level, message, fields in logger.log(level, message, fields, caller: "peer") })
    }
}

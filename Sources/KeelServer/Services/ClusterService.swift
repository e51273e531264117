import KeelAPI
import NIOCore

/// etcdserverpb.Cluster for this build's one-member clusters: MemberList for real; the
/// changes answer as etcd answers them where etcd refuses (unknown member, a voter that
/// could not reach quorum, promoting a voter), and refuse clearly where etcd would change
/// the membership, which needs the peer transport.
struct ClusterService: Sendable {
    let node: KeelNode

    static let needsPeerTransport = GRPCStatus(
        .unimplemented, "keel: membership changes need the peer transport, which this build does not have yet")

    func register(in routes: inout ServiceRoutes) {
        routes.unary(EtcdMethod.named("/etcdserverpb.Cluster/MemberList")) { (_: Etcdserverpb_MemberListRequest, _, promise: EventLoopPromise<Etcdserverpb_MemberListResponse>) in
            var response = Etcdserverpb_MemberListResponse()
            response.header = node.header()
            response.members = node.members
            promise.succeed(response)
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Cluster/MemberAdd")) { (request: Etcdserverpb_MemberAddRequest, _, promise: EventLoopPromise<Etcdserverpb_MemberAddResponse>) in
            if request.peerUrls.isEmpty || !request.peerUrls.allSatisfy(Self.isPeerURL) { return promise.fail(EtcdError.memberBadURLs.status) }
            let known = Set(node.members.flatMap(\.peerUrls))
            if request.peerUrls.contains(where: known.contains) { return promise.fail(EtcdError.peerURLExists.status) }
            // A voter added to one started member leaves a cluster of two needing both: etcd's
            // strict reconfiguration check refuses it.
            if !request.isLearner { return promise.fail(EtcdError.memberNotEnoughStarted.status) }
            promise.fail(Self.needsPeerTransport)
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Cluster/MemberRemove")) { (request: Etcdserverpb_MemberRemoveRequest, _, promise: EventLoopPromise<Etcdserverpb_MemberRemoveResponse>) in
            guard node.members.contains(where: { $0.id == request.id }) else { return promise.fail(EtcdError.memberNotFound.status) }
            // Removing the only voter leaves no quorum.
            promise.fail(EtcdError.memberNotEnoughStarted.status)
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Cluster/MemberUpdate")) { (request: Etcdserverpb_MemberUpdateRequest, _, promise: EventLoopPromise<Etcdserverpb_MemberUpdateResponse>) in
            guard node.members.contains(where: { $0.id == request.id }) else { return promise.fail(EtcdError.memberNotFound.status) }
            if request.peerUrls.isEmpty || !request.peerUrls.allSatisfy(Self.isPeerURL) { return promise.fail(EtcdError.memberBadURLs.status) }
            promise.fail(Self.needsPeerTransport)
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Cluster/MemberPromote")) { (request: Etcdserverpb_MemberPromoteRequest, _, promise: EventLoopPromise<Etcdserverpb_MemberPromoteResponse>) in
            guard let member = node.members.first(where: { $0.id == request.id }) else { return promise.fail(EtcdError.memberNotFound.status) }
            guard member.isLearner else { return promise.fail(EtcdError.memberNotLearner.status) }
            promise.fail(Self.needsPeerTransport)
        }
    }

    /// A URL etcd would take as a peer URL: http(s)://host:port.
    static func isPeerURL(_ url: String) -> Bool {
        guard let schemeEnd = url.range(of: "://") else { return false }
        let scheme = url[..<schemeEnd.lowerBound]
        let hostPort = url[schemeEnd.upperBound...].split(separator: "/", maxSplits: 1).first ?? ""
        guard scheme == "http" || scheme == "https", let colon = hostPort.lastIndex(of: ":") else { return false }
        return !hostPort[..<colon].isEmpty && UInt16(hostPort[hostPort.index(after: colon)...]) != nil
    }
}

#if canImport(Glibc)
import Glibc
#endif
import KeelAPI
import KeelRaft
import NIOCore

/// etcdserverpb.Cluster as etcd 3.5 serves it: every change goes through raft as a conf
/// change (ClusterService+Checks.swift holds etcd's checks before proposing) and is answered
/// once applied on this member, with the members then.
struct ClusterService: Sendable {
    let node: KeelNode

    static let needsPeerTransport = GRPCStatus(
        .unimplemented, "keel: this member runs no peer transport (no http URL in --listen-peer-urls) and cannot add members")

    func register(in routes: inout ServiceRoutes) {
        routes.unary(EtcdMethod.named("/etcdserverpb.Cluster/MemberList")) { (request: Etcdserverpb_MemberListRequest, context, reply: GRPCReply<Etcdserverpb_MemberListResponse>) in
            let answer: @Sendable () -> Void = {
                var response = Etcdserverpb_MemberListResponse()
                response.header = node.header()
                response.members = node.members
                reply.succeed(response)
            }
            // As etcd 3.5: the member's own view, unless the caller asks for a linearizable one.
            guard request.linearizable else { return answer() }
            node.readIndex(on: context.eventLoop).whenSuccess { outcome in
                switch outcome {
                case .applied: answer()
                case .refused: reply.fail(node.readRefusal.status)
                }
            }
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Cluster/MemberAdd")) { (request: Etcdserverpb_MemberAddRequest, context, reply: GRPCReply<Etcdserverpb_MemberAddResponse>) in
            memberAdd(request, on: context.eventLoop, reply)
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Cluster/MemberRemove")) { (request: Etcdserverpb_MemberRemoveRequest, context, reply: GRPCReply<Etcdserverpb_MemberRemoveResponse>) in
            if let refusal = removeRefusal(request.id) { return reply.fail(refusal.status) }
            var member = Etcdserverpb_Member()
            member.id = request.id
            answer(node.proposeMemberChange(.removeNode, member: member, on: context.eventLoop), reply) { header, members in
                var response = Etcdserverpb_MemberRemoveResponse()
                response.header = header
                response.members = members
                return response
            }
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Cluster/MemberUpdate")) { (request: Etcdserverpb_MemberUpdateRequest, context, reply: GRPCReply<Etcdserverpb_MemberUpdateResponse>) in
            guard node.members.contains(where: { $0.id == request.id }) else { return reply.fail(EtcdError.memberNotFound.status) }
            if request.peerUrls.isEmpty || !request.peerUrls.allSatisfy(Self.isPeerURL) { return reply.fail(EtcdError.memberBadURLs.status) }
            var member = Etcdserverpb_Member()
            member.id = request.id
            member.peerUrls = request.peerUrls
            answer(node.proposeMemberChange(.updateNode, member: member, on: context.eventLoop), reply) { header, members in
                var response = Etcdserverpb_MemberUpdateResponse()
                response.header = header
                response.members = members
                return response
            }
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Cluster/MemberPromote")) { (request: Etcdserverpb_MemberPromoteRequest, context, reply: GRPCReply<Etcdserverpb_MemberPromoteResponse>) in
            memberPromote(request, on: context.eventLoop, reply)
        }
    }

    private func memberAdd(_ request: Etcdserverpb_MemberAddRequest, on eventLoop: any EventLoop,
                           _ reply: GRPCReply<Etcdserverpb_MemberAddResponse>) {
        if request.peerUrls.isEmpty || !request.peerUrls.allSatisfy(Self.isPeerURL) { return reply.fail(EtcdError.memberBadURLs.status) }
        let known = Set(node.members.flatMap(\.peerUrls))
        if request.peerUrls.contains(where: known.contains) { return reply.fail(EtcdError.peerURLExists.status) }
        if let refusal = addRefusal(isLearner: request.isLearner) { return reply.fail(refusal.status) }
        guard node.peers != nil else { return reply.fail(Self.needsPeerTransport) }
        // As etcd's v3 MemberAdd: the id derives from the peer URLs and the time of the
        // request, with no cluster token.
        var member = Etcdserverpb_Member()
        member.id = MemberIdentity.memberID(peerURLs: request.peerUrls, clusterToken: "",
                                            addedAtUnixSeconds: Self.unixSeconds())
        member.peerUrls = request.peerUrls
        member.isLearner = request.isLearner
        let kind: ConfChange.Kind = request.isLearner ? .addLearnerNode : .addNode
        let added = member
        answer(node.proposeMemberChange(kind, member: added, on: eventLoop), reply) { header, members in
            var response = Etcdserverpb_MemberAddResponse()
            response.header = header
            response.member = members.first { $0.id == added.id } ?? added
            response.members = members
            return response
        }
    }

    private func memberPromote(_ request: Etcdserverpb_MemberPromoteRequest, on eventLoop: any EventLoop,
                               _ reply: GRPCReply<Etcdserverpb_MemberPromoteResponse>) {
        guard let member = node.members.first(where: { $0.id == request.id }) else { return reply.fail(EtcdError.memberNotFound.status) }
        guard member.isLearner else { return reply.fail(EtcdError.memberNotLearner.status) }
        node.raftStatus(on: eventLoop).whenSuccess { status in
            guard let status else { return reply.fail(EtcdError.stopped.status) }
            guard !status.progress.isEmpty else {
                // Only the leader knows how far the learner is: ask it.
                return forwardPromote(request, leader: status.softState.leader, on: eventLoop, reply)
            }
            if let refusal = promoteRefusal(request.id, status: status) { return reply.fail(refusal.status) }
            var promoted = Etcdserverpb_Member()
            promoted.id = request.id
            answer(node.proposeMemberChange(.addNode, member: promoted, isPromote: true, on: eventLoop), reply) { header, members in
                var response = Etcdserverpb_MemberPromoteResponse()
                response.header = header
                response.members = members
                return response
            }
        }
    }

    /// Completes `reply` with the applied change's members, or its error.
    private func answer<Response: Sendable>(_ outcome: EventLoopFuture<AppliedOutcome>, _ reply: GRPCReply<Response>,
                                  _ make: @escaping @Sendable (Etcdserverpb_ResponseHeader, [Etcdserverpb_Member]) -> Response) {
        outcome.whenSuccess { [node] outcome in
            switch outcome {
            case .members(let members): reply.succeed(make(node.header(), members))
            case .failed(let error): reply.fail(error.status)
            default: reply.fail(GRPCStatus(.internal, "keel: a membership change applied as \(outcome)"))
            }
        }
    }

    static func unixSeconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
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

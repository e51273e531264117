import Foundation
import KeelAPI
import KeelIO
import KeelMVCC
import NIOCore
import Synchronization

/// etcdserverpb.Lease: LeaseGrant, LeaseRevoke, LeaseKeepAlive, LeaseTimeToLive, LeaseLeases.
///
/// Grants and revokes go through raft, so every member holds the same leases and deletes a
/// revoked lease's keys at the same revision. Keepalives renew the countdown on the leader's
/// lessor only (etcd does not log them): a follower forwards them to the leader, and
/// TimeToLive too (LeaseService+Forwarding.swift). The leader answers TimeToLive after a read
/// index, as etcd waits for its applied index first; LeaseLeases answers from the local
/// lessor at once.
struct LeaseService: Sendable {
    let node: KeelNode

    /// How long a keepalive waits between looks at a lease that is not renewable yet (the
    /// lessor is not promoted yet, or the lease expired and its revoke is on its way).
    static let renewRetryMilliseconds: Int64 = 50

    func register(in routes: inout ServiceRoutes) {
        routes.unary(EtcdMethod.named("/etcdserverpb.Lease/LeaseGrant")) { (request: Etcdserverpb_LeaseGrantRequest, context, reply: GRPCReply<Etcdserverpb_LeaseGrantResponse>) in
            grant(request, context, reply)
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Lease/LeaseRevoke")) { (request: Etcdserverpb_LeaseRevokeRequest, context, reply: GRPCReply<Etcdserverpb_LeaseRevokeResponse>) in
            node.propose(.leaseRevoke(request), on: context.eventLoop).whenSuccess { outcome in
                switch outcome {
                case .leaseRevoked(let revision):
                    var response = Etcdserverpb_LeaseRevokeResponse()
                    response.header = node.header(revision: revision)
                    reply.succeed(response)
                case .failed(let error): reply.fail(error.status)
                default: preconditionFailure("a lease revoke was applied as \(outcome)")
                }
            }
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Lease/LeaseTimeToLive")) { (request: Etcdserverpb_LeaseTimeToLiveRequest, context, reply: GRPCReply<Etcdserverpb_LeaseTimeToLiveResponse>) in
            let deadline = NIODeadline.now() + .nanoseconds(Int64(node.options.requestTimeoutNanoseconds))
            timeToLiveOnLeader(request, until: deadline, on: context.eventLoop).whenComplete { result in
                switch result {
                case .success(let response): reply.succeed(response)
                case .failure(let error): reply.fail(error as? GRPCStatus ?? EtcdError.timeout.status)
                }
            }
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Lease/LeaseLeases")) { (_: Etcdserverpb_LeaseLeasesRequest, _, reply: GRPCReply<Etcdserverpb_LeaseLeasesResponse>) in
            var response = Etcdserverpb_LeaseLeasesResponse()
            response.leases = node.keySpace.lessor.leases().map { id in
                var status = Etcdserverpb_LeaseStatus()
                status.id = id.rawValue
                return status
            }
            response.header = node.header()
            reply.succeed(response)
        }
        routes.bidirectionalStreaming(EtcdMethod.named("/etcdserverpb.Lease/LeaseKeepAlive")) {
            (call: GRPCCallContext, stream: GRPCServerStream<Etcdserverpb_LeaseKeepAliveResponse>) in
            keepAlive(call, stream)
        }
        routes.gatewayStreaming(EtcdMethod.named("/etcdserverpb.Lease/LeaseKeepAlive")) {
            (context: RequestContext, sink: GatewayStreamSink<Etcdserverpb_LeaseKeepAliveResponse>) in
            keepAlive(context, sink)
        }
    }

    /// A request without an id gets one here, before the log (etcd takes the next request id
    /// with the sign bit cleared), so every member applies the same id.
    private func grant(_ request: Etcdserverpb_LeaseGrantRequest, _ context: RequestContext,
                       _ reply: GRPCReply<Etcdserverpb_LeaseGrantResponse>) {
        var request = request
        while request.id == 0 {
            request.id = Int64(bitPattern: node.requestIDs.make() & ~(UInt64(1) << 63))
        }
        let proposal = ProposalRequest.leaseGrant(request)
        if let refusal = node.quotaRefusal(for: proposal, on: context.eventLoop) { return reply.fail(refusal.status) }
        node.propose(proposal, on: context.eventLoop).whenSuccess { outcome in
            switch outcome {
            case .leaseGranted(let id, let ttlSeconds, let revision):
                var response = Etcdserverpb_LeaseGrantResponse()
                response.header = node.header(revision: revision)
                response.id = id.rawValue
                response.ttl = ttlSeconds
                reply.succeed(response)
            case .failed(let error): reply.fail(error.status)
            default: preconditionFailure("a lease grant was applied as \(outcome)")
            }
        }
    }

    /// etcd answers a lease that does not exist with TTL -1 rather than an error.
    func timeToLive(_ request: Etcdserverpb_LeaseTimeToLiveRequest) -> Etcdserverpb_LeaseTimeToLiveResponse {
        var response = Etcdserverpb_LeaseTimeToLiveResponse()
        response.id = request.id
        let now = Int64(MonotonicClock.nanoseconds())
        switch node.keySpace.lessor.timeToLive(LeaseID(request.id), nowNanoseconds: now, withKeys: request.keys) {
        case .success(let status):
            response.ttl = status.remainingTTLSeconds
            response.grantedTtl = status.grantedTTLSeconds
            response.keys = status.keys.map { Data($0) }
        case .failure:
            response.ttl = -1
        }
        response.header = node.header()
        return response
    }
}

import KeelAPI
import KeelIO
import KeelMVCC
import NIOCore

/// LeaseKeepAlive: a stream of lease ids in, one {header, ID, TTL} answer per id out, in order.
extension LeaseService {
    /// Each request renews its lease on the leader's lessor and is answered with the TTL the
    /// countdown restarted from; a lease that does not exist (or was revoked, or expired and
    /// got revoked meanwhile) is answered with TTL 0, which clients read as "gone", as etcd does.
    /// Requests are handled one at a time, as etcd's receive loop does, so answers keep their
    /// order. An error (the wait for a renewable lease ran out) ends the call with its status;
    /// the client half-closing ends it with OK once the answers queued before are sent.
    func keepAlive(_ call: GRPCCallContext, _ stream: GRPCServerStream<Etcdserverpb_LeaseKeepAliveResponse>)
        -> (GRPCInboundEvent<Etcdserverpb_LeaseKeepAliveRequest>) -> Void {
        keepAlive(on: call.eventLoop, closeFuture: call.closeFuture, send: { stream.send($0) }, finish: { stream.finish($0) })
    }

    /// The same over the gateway (/v3/lease/keepalive): one JSON answer line per request; the
    /// stream ends once the request body has been answered (a failure ends it early).
    func keepAlive(_ context: RequestContext, _ sink: GatewayStreamSink<Etcdserverpb_LeaseKeepAliveResponse>)
        -> (GRPCInboundEvent<Etcdserverpb_LeaseKeepAliveRequest>) -> Void {
        keepAlive(on: context.eventLoop, closeFuture: nil, send: { sink.send($0) }, finish: { _ in sink.finish() })
    }

    private func keepAlive(
        on eventLoop: any EventLoop, closeFuture: EventLoopFuture<Void>?,
        send: @escaping @Sendable (Etcdserverpb_LeaseKeepAliveResponse) -> Void, finish: @escaping @Sendable (GRPCStatus) -> Void
    ) -> (GRPCInboundEvent<Etcdserverpb_LeaseKeepAliveRequest>) -> Void {
        // Only touched on the stream's event loop (the handler and every future run there).
        let tail = NIOLoopBoundBox(eventLoop.makeSucceededVoidFuture(), eventLoop: eventLoop)
        let closed = NIOLoopBoundBox(false, eventLoop: eventLoop)
        closeFuture?.hop(to: eventLoop).whenComplete { _ in closed.value = true }
        return { event in
            switch event {
            case .message(let request):
                tail.value = tail.value.flatMap {
                    let deadline = NIODeadline.now() + .nanoseconds(Int64(node.options.requestTimeoutNanoseconds))
                    return renew(LeaseID(request.id), until: deadline, closed: closed, on: eventLoop)
                }.map { ttl in
                    var response = Etcdserverpb_LeaseKeepAliveResponse()
                    response.header = node.header()
                    response.id = request.id
                    response.ttl = ttl
                    send(response)
                }
                // A failed renewal ends the call; the failure also skips every later request.
                tail.value.whenFailure { error in finish(error as? GRPCStatus ?? EtcdError.timeout.status) }
            case .end:
                tail.value.whenSuccess { finish(.ok) }
            case .cancelled:
                closed.value = true
            }
        }
    }

    /// The TTL to answer for a keepalive of `id`. On a follower the leader renews it
    /// (LeaseService+Forwarding.swift). Waits (polling every `renewRetryMilliseconds`) while
    /// there is no leader, while the leader cannot answer, while this member's lessor is not yet
    /// the primary (just elected: it promotes once the earlier terms are applied), or while the
    /// lease has expired and its revoke is on its way through raft; etcd waits the same way,
    /// then answers TTL 0 for the revoked lease.
    private func renew(_ id: LeaseID, until deadline: NIODeadline, closed: NIOLoopBoundBox<Bool>,
                       on eventLoop: any EventLoop) -> EventLoopFuture<Int64> {
        let renewal = node.keySpace.lessor.renew(id, nowNanoseconds: Int64(MonotonicClock.nanoseconds()))
        switch renewal {
        case .renewed(let ttlSeconds, let clear):
            if let clear { node.proposeCheckpoints([clear], on: eventLoop) }
            return eventLoop.makeSucceededFuture(ttlSeconds)
        case .refused(.leaseNotFound):
            return eventLoop.makeSucceededFuture(0)
        case .refused(let refusal):
            return eventLoop.makeFailedFuture(EtcdError(refusal).status)
        case .notPrimary, .expired:
            if node.stopped.load(ordering: .relaxed) { return eventLoop.makeFailedFuture(EtcdError.stopped.status) }
            if closed.value { return eventLoop.makeFailedFuture(EtcdError.canceled.status) }
            guard NIODeadline.now() < deadline else {
                let error: EtcdError = node.raft.state.leader.load(ordering: .relaxed) == 0 ? .noLeader : .timeout
                return eventLoop.makeFailedFuture(error.status)
            }
            let again: @Sendable () -> EventLoopFuture<Int64> = {
                eventLoop.flatScheduleTask(in: .milliseconds(Self.renewRetryMilliseconds)) {
                    renew(id, until: deadline, closed: closed, on: eventLoop)
                }.futureResult
            }
            guard renewal == .notPrimary, let (leader, peers) = forwardingTarget else { return again() }
            return forwardRenew(id, to: leader, through: peers, until: deadline, on: eventLoop).flatMap { answer in
                switch answer {
                case .renewed(let ttlSeconds): eventLoop.makeSucceededFuture(ttlSeconds)
                case .notFound: eventLoop.makeSucceededFuture(0)
                case .retry: again()
                }
            }
        }
    }
}

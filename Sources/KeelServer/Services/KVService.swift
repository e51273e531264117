import KeelAPI
import KeelMVCC
import NIOCore

/// etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact.
///
/// Requests are checked as etcd's gRPC layer checks them before anything is proposed. Writes
/// go through raft (`KeelNode.propose`); a Range, and a Txn that writes nothing, are served
/// from the published key space on the event loop, after a read index unless serializable
/// (a Txn is when every op of both branches is a serializable Range, etcd's rule).
struct KVService: Sendable {
    let node: KeelNode
    let metrics: EtcdMetrics

    func register(in routes: inout ServiceRoutes) {
        routes.unary(EtcdMethod.named("/etcdserverpb.KV/Range")) { (request: Etcdserverpb_RangeRequest, context, reply: GRPCReply<Etcdserverpb_RangeResponse>) in
            range(request, context, reply)
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.KV/Put")) { (request: Etcdserverpb_PutRequest, context, reply: GRPCReply<Etcdserverpb_PutResponse>) in
            if let status = KVRequestValidation.check(request) { return reply.fail(status) }
            write(.put(request), context, reply) { outcome, header in
                guard case .put(let response) = outcome else { return nil }
                metrics.puts.increment()
                return Etcdserverpb_PutResponse(response, header: header)
            }
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.KV/DeleteRange")) { (request: Etcdserverpb_DeleteRangeRequest, context, reply: GRPCReply<Etcdserverpb_DeleteRangeResponse>) in
            if let status = KVRequestValidation.check(request) { return reply.fail(status) }
            write(.deleteRange(request), context, reply) { outcome, header in
                guard case .deleteRange(let response) = outcome else { return nil }
                metrics.deletes.increment()
                return Etcdserverpb_DeleteRangeResponse(response, header: header)
            }
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.KV/Txn")) { (request: Etcdserverpb_TxnRequest, context, reply: GRPCReply<Etcdserverpb_TxnResponse>) in
            if let status = KVRequestValidation.check(request, limits: node.options.limits) { return reply.fail(status) }
            let txn = TxnRequest(request)
            if txn.isReadOnly { return readOnlyTxn(txn, serializable: Self.isSerializable(request), context, reply) }
            write(.txn(request), context, reply) { outcome, header in
                guard case .txn(let response) = outcome else { return nil }
                metrics.txns.increment()
                return Etcdserverpb_TxnResponse(response, header: header)
            }
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.KV/Compact")) { (request: Etcdserverpb_CompactionRequest, context, reply: GRPCReply<Etcdserverpb_CompactionResponse>) in
            write(.compact(request), context, reply) { outcome, header in
                guard case .compact(let response) = outcome else { return nil }
                return Etcdserverpb_CompactionResponse(response, header: header)
            }
        }
    }

    private func range(_ request: Etcdserverpb_RangeRequest, _ context: RequestContext,
                       _ reply: GRPCReply<Etcdserverpb_RangeResponse>) {
        if let status = KVRequestValidation.check(request) { return reply.fail(status) }
        read(serializable: request.serializable, context, reply) {
            switch node.keySpace.store.range(RangeRequest(request)) {
            case .success(let response):
                metrics.ranges.increment()
                reply.succeed(Etcdserverpb_RangeResponse(response, header: node.header()))
            case .failure(let refusal): reply.fail(EtcdError(refusal).status)
            }
        }
    }

    private func readOnlyTxn(_ request: TxnRequest, serializable: Bool, _ context: RequestContext,
                             _ reply: GRPCReply<Etcdserverpb_TxnResponse>) {
        read(serializable: serializable, context, reply) {
            switch node.keySpace.store.readOnlyTxn(request) {
            case .success(let response):
                metrics.txns.increment()
                reply.succeed(Etcdserverpb_TxnResponse(response, header: node.header()))
            case .failure(let refusal): reply.fail(EtcdError(refusal).status)
            }
        }
    }

    /// Runs `serve` at once when `serializable`, else once this member has applied everything
    /// committed when the request arrived (a read index); fails `reply` if none comes.
    private func read<Response>(serializable: Bool, _ context: RequestContext, _ reply: GRPCReply<Response>,
                                serve: @escaping @Sendable () -> Void) {
        if serializable { return serve() }
        node.readIndex(on: context.eventLoop) { outcome in
            switch outcome {
            case .applied: serve()
            case .refused: reply.fail(node.readRefusal.status)
            }
        }
    }

    /// etcd's isTxnSerializable: every op of both branches is a serializable Range.
    static func isSerializable(_ request: Etcdserverpb_TxnRequest) -> Bool {
        (request.success + request.failure).allSatisfy { op in
            if case .requestRange(let range) = op.request { return range.serializable }
            return false
        }
    }

    /// Proposes `request` and answers with `respond`'s conversion of what applying it did.
    private func write<Response: Sendable>(
        _ request: ProposalRequest, _ context: RequestContext, _ reply: GRPCReply<Response>,
        respond: @escaping @Sendable (AppliedOutcome, Etcdserverpb_ResponseHeader) -> Response?
    ) {
        if let refusal = node.quotaRefusal(for: request, on: context.eventLoop) { return reply.fail(refusal.status) }
        node.propose(request, on: context.eventLoop) { outcome in
            if case .failed(let error) = outcome { return reply.fail(error.status) }
            guard let response = respond(outcome, node.header()) else {
                preconditionFailure("a \(Response.self) request was applied as \(outcome)")
            }
            reply.succeed(response)
        }
    }
}

extension EtcdMethod {
    /// The method at gRPC `path`; the path must be one of etcd's.
    static func named(_ path: String) -> EtcdMethod {
        guard let method = all.first(where: { $0.path == path }) else { preconditionFailure("no etcd method \(path)") }
        return method
    }
}

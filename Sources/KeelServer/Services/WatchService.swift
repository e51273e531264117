import KeelAPI
import NIOCore

/// etcdserverpb.Watch: one bidirectional stream per client carrying many watches, served by a
/// `WatchSession` over the node's watch hub.
///
/// As etcd: the client half-closing its side ends nothing (the server keeps sending until the
/// client cancels the call or goes away); a reset or lost connection releases every watcher
/// of the stream.
struct WatchService: Sendable {
    let node: KeelNode

    func register(in routes: inout ServiceRoutes) {
        routes.bidirectionalStreaming(EtcdMethod.named("/etcdserverpb.Watch/Watch")) {
            (call: GRPCCallContext, stream: GRPCServerStream<Etcdserverpb_WatchResponse>) in
            Self.receiver(WatchSession(node: node, eventLoop: call.eventLoop, sink: stream))
        }
        routes.gatewayStreaming(EtcdMethod.named("/etcdserverpb.Watch/Watch")) {
            (context: RequestContext, sink: GatewayStreamSink<Etcdserverpb_WatchResponse>) in
            Self.receiver(WatchSession(node: node, eventLoop: context.eventLoop, sink: sink))
        }
    }

    /// What a watch stream does with its client's messages: a half-close keeps the stream
    /// going (as etcd's does); a reset or a lost connection ends the session.
    private static func receiver(_ session: WatchSession) -> (GRPCInboundEvent<Etcdserverpb_WatchRequest>) -> Void {
        { event in
            switch event {
            case .message(let request): session.receive(request)
            case .end: break
            case .cancelled: session.close()
            }
        }
    }
}

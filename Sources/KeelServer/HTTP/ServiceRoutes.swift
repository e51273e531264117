import KeelAPI
import NIOCore
import NIOHPACK
import SwiftProtobuf

/// The node's RPC handlers, registered once and served both over gRPC (`grpcMethods`, for
/// `GRPCServer.start`) and over the JSON gateway (`GatewayResponder`, at each of the method's
/// `EtcdMethod.routes`). Every call through either path is counted in go-grpc-prometheus's
/// `grpc_server_*` series, as etcd's gateway calls pass through its own gRPC server.
///
/// Bidirectional-streaming methods reach the gateway only through `gatewayStreaming`.
public struct ServiceRoutes: Sendable {
    /// Every registered method, for the gRPC server.
    public private(set) var grpcMethods = GRPCMethodTable()
    /// Unary methods by gRPC path, type-erased for the gateway.
    private(set) var gatewayMethods: [String: GatewayMethod] = [:]
    /// Gateway route ("/v3/kv/range") → gRPC path.
    private(set) var gatewayRoutes: [String: String] = [:]
    /// Streaming methods served on the gateway, by route.
    private(set) var gatewayStreams: [String: GatewayStreamMethod] = [:]
    private let metrics: GRPCServerMetrics
    /// Asked before every unary call (gRPC and gateway) registered after it is set: a status
    /// refuses the call with it (a learner's refusal of what it does not serve).
    var refusal: (@Sendable (any Message) -> GRPCStatus?)?
    /// Asked when a bidirectional stream (gRPC) registered after it is set opens: a status
    /// ends the stream with it at once.
    var streamRefusal: (@Sendable () -> GRPCStatus?)?

    public init(metrics: GRPCServerMetrics) {
        self.metrics = metrics
    }

    /// Registers a unary etcd method; `Request` and `Response` must be the method's messages.
    /// The handler is called on the call's event loop and answers through the reply from any
    /// thread; failing it with a `GRPCStatus` answers that status (on the gateway, mapped to
    /// HTTP as grpc-gateway maps it), any other error UNKNOWN.
    public mutating func unary<Request: Message, Response: Message>(
        _ method: EtcdMethod,
        handler: @escaping @Sendable (Request, RequestContext, GRPCReply<Response>) -> Void
    ) {
        precondition(!method.clientStreams && !method.serverStreams, "\(method.path) is a streaming method")
        precondition(
            ObjectIdentifier(method.request) == ObjectIdentifier(Request.self)
                && ObjectIdentifier(method.response) == ObjectIdentifier(Response.self),
            "\(method.path) takes \(method.request) and answers \(method.response), not \(Request.self) → \(Response.self)")
        unary(method.path, gatewayRoutes: method.routes, handler: handler)
    }

    /// Registers a unary method by gRPC path, served on the gateway at `gatewayRoutes`
    /// (exact paths such as "/v3/kv/range"; none for a gRPC-only method).
    public mutating func unary<Request: Message, Response: Message>(
        _ path: String, gatewayRoutes routes: [String] = [],
        handler: @escaping @Sendable (Request, RequestContext, GRPCReply<Response>) -> Void
    ) {
        let series = metrics.method(path: path, type: "unary")
        let refusal = self.refusal
        let counted: @Sendable (Request, RequestContext, GRPCReply<Response>) -> Void = { request, context, reply in
            series.started.increment()
            series.received.increment()
            if let status = refusal?(request) {
                series.handled(status.code).increment()
                return reply.fail(status)
            }
            handler(request, context, reply.observed { result in
                switch result {
                case .success:
                    series.handled(.ok).increment()
                    series.sent.increment()
                case .failure(let error):
                    series.handled((error as? GRPCStatus)?.code ?? .unknown).increment()
                }
            })
        }
        grpcMethods.addUnary(path) { (request: Request, call: GRPCCallContext, reply: GRPCReply<Response>) in
            let context = RequestContext(
                eventLoop: call.eventLoop, deadline: call.deadline, authToken: Self.authToken(call.headers))
            counted(request, context, reply)
        }
        gatewayMethods[path] = GatewayMethod(path: path, requestType: Request.self, responseType: Response.self, handler: counted)
        for route in routes {
            precondition(route.hasPrefix("/v3/") && gatewayRoutes[route] == nil, "bad or duplicate gateway route \(route)")
            gatewayRoutes[route] = path
        }
    }

    /// Registers a method with one request and a stream of responses (Maintenance/Snapshot),
    /// on gRPC only. Counted as started; its end is not (its status is not visible here).
    public mutating func serverStreaming<Request: Message, Response: Message>(
        _ method: EtcdMethod,
        handler: @escaping @Sendable (Request, GRPCCallContext, GRPCServerStream<Response>) -> Void
    ) {
        precondition(!method.clientStreams && method.serverStreams, "\(method.path) is not server-streaming")
        let series = metrics.method(path: method.path, type: "server_stream", countsHandled: false)
        grpcMethods.addServerStreaming(method.path) {
            (request: Request, call: GRPCCallContext, stream: GRPCServerStream<Response>) in
            series.started.increment()
            series.received.increment()
            handler(request, call, stream)
        }
    }

    /// Registers a method with streams both ways (Watch, LeaseKeepAlive), on gRPC only. Counted
    /// as started, and each client message as received; its end is not.
    public mutating func bidirectionalStreaming<Request: Message, Response: Message>(
        _ method: EtcdMethod,
        handler: @escaping @Sendable (GRPCCallContext, GRPCServerStream<Response>) -> (GRPCInboundEvent<Request>) -> Void
    ) {
        precondition(method.clientStreams && method.serverStreams, "\(method.path) is not bidirectional")
        let series = metrics.method(path: method.path, type: "bidi_stream", countsHandled: false)
        let refusal = streamRefusal
        grpcMethods.addBidirectionalStreaming(method.path) {
            (call: GRPCCallContext, stream: GRPCServerStream<Response>) -> (GRPCInboundEvent<Request>) -> Void in
            series.started.increment()
            if let status = refusal?() {
                stream.finish(status)
                return { _ in }
            }
            let receive = handler(call, stream)
            return { event in
                if case .message = event { series.received.increment() }
                receive(event)
            }
        }
    }

    /// Serves a bidirectional-streaming method on the gateway at its `EtcdMethod.routes`, as
    /// grpc-gateway does (see `GatewayStreamMethod`). Counted as started, and each request
    /// message as received, in the same series as its gRPC calls.
    mutating func gatewayStreaming<Request: Message, Response: Message>(
        _ method: EtcdMethod,
        handler: @escaping @Sendable (RequestContext, GatewayStreamSink<Response>) -> (GRPCInboundEvent<Request>) -> Void
    ) {
        precondition(method.clientStreams && method.serverStreams, "\(method.path) is not bidirectional")
        let series = metrics.method(path: method.path, type: "bidi_stream", countsHandled: false)
        let stream = GatewayStreamMethod(path: method.path, requestType: Request.self, responseType: Response.self,
                                         refusal: streamRefusal) { context, sink in
            series.started.increment()
            let receive = handler(context, sink)
            return { event in
                if case .message = event { series.received.increment() }
                receive(event)
            }
        }
        for route in method.routes {
            precondition(route.hasPrefix("/v3/") && gatewayStreams[route] == nil && gatewayRoutes[route] == nil,
                         "bad or duplicate gateway route \(route)")
            gatewayStreams[route] = stream
        }
    }

    /// The streaming gateway method at a route, if one was registered there.
    func gatewayStream(forRoute route: String) -> GatewayStreamMethod? { gatewayStreams[route] }

    /// The gRPC path served at a gateway route, if a unary method was registered there.
    public func gatewayPath(forRoute route: String) -> String? { gatewayRoutes[route] }

    /// The gateway method for a route (nil when no unary method serves it).
    func gatewayMethod(forRoute route: String) -> GatewayMethod? {
        gatewayRoutes[route].flatMap { gatewayMethods[$0] }
    }

    /// etcd reads the token from metadata `token` (its clients) or `authorization` (its gateway).
    static func authToken(_ headers: HPACKHeaders) -> String? {
        headers.first(name: "token") ?? headers.first(name: "authorization")
    }
}

import NIOCore
import NIOHPACK
import SwiftProtobuf

/// What a gRPC handler learns about its call.
public struct GRPCCallContext: Sendable {
    /// The method's path, such as "/etcdserverpb.KV/Range".
    public let path: String
    /// The request headers (metadata), pseudo-headers included.
    public let headers: HPACKHeaders
    /// When the client's `grpc-timeout` runs out; the call is then failed with DEADLINE_EXCEEDED
    /// whatever the handler does later.
    public let deadline: NIODeadline?
    /// The loop the stream lives on. Handlers are called on it and must not block it.
    public var eventLoop: any EventLoop { call.eventLoop }
    let call: GRPCServerCall

    init(path: String, headers: HPACKHeaders, deadline: NIODeadline?, call: GRPCServerCall) {
        self.path = path
        self.headers = headers
        self.deadline = deadline
        self.call = call
    }

    /// Succeeds when the stream is gone: finished, reset by the client, or its connection lost.
    /// Read it on `eventLoop` (where handlers run).
    public var closeFuture: EventLoopFuture<Void> { call.closeFuture() }
}

/// What a bidirectional-streaming handler receives from its client, on the stream's event loop.
public enum GRPCInboundEvent<Message> {
    case message(Message)
    /// The client half-closed: no more messages will come. The handler may keep sending.
    case end
    /// The call ended other than by the handler's own `finish` (client reset, deadline,
    /// connection lost, a request that could not be read): sending is no longer possible.
    /// Delivered at most once, and never after the handler's `finish`.
    case cancelled
}

/// The server's methods, keyed by gRPC path, over SwiftProtobuf messages.
///
/// Every handler is called on the stream's event loop and must return without blocking; it
/// completes the call later from any thread (the node completes writes from its apply loop):
/// a unary call through its `GRPCReply`, a streaming call through its `GRPCServerStream`. A
/// reply failed with a `GRPCStatus` sends that status; any other error is sent as UNKNOWN.
/// A request that does not decode as the method's message fails with INTERNAL.
public struct GRPCMethodTable: Sendable {
    var methods: [String: GRPCServerMethod] = [:]

    public init() {}

    /// The paths registered, sorted.
    public var paths: [String] { methods.keys.sorted() }

    /// A method with one request and one response.
    public mutating func addUnary<Request: Message, Response: Message>(
        _ path: String, _ request: Request.Type = Request.self, _ response: Response.Type = Response.self,
        handler: @escaping @Sendable (Request, GRPCCallContext, GRPCReply<Response>) -> Void
    ) {
        register(path, GRPCServerMethod(kind: .unary) { context, writer in
            { event in
                guard case .message(let bytes) = event else { return }
                let request: Request
                do throws(GRPCStatus) { request = try decode(bytes) } catch { return writer.finish(error) }
                handler(request, context, GRPCReply { result in
                    switch result {
                    case .success(let response): writer.sendLast(response)
                    case .failure(let error): writer.finish(GRPCServerMethod.status(of: error))
                    }
                })
            }
        })
    }

    /// A method with one request and a stream of responses (Maintenance/Snapshot).
    public mutating func addServerStreaming<Request: Message, Response: Message>(
        _ path: String, _ request: Request.Type = Request.self, _ response: Response.Type = Response.self,
        handler: @escaping @Sendable (Request, GRPCCallContext, GRPCServerStream<Response>) -> Void
    ) {
        register(path, GRPCServerMethod(kind: .unary) { context, writer in
            let stream = GRPCServerStream<Response>(writer: writer)
            return { event in
                switch event {
                case .message(let bytes):
                    do throws(GRPCStatus) { handler(try decode(bytes), context, stream) } catch { writer.finish(error) }
                case .end, .cancelled: break
                }
            }
        })
    }

    /// A method with streams both ways (Watch, LeaseKeepAlive). The handler is called when the
    /// stream opens and returns the function that receives the client's messages.
    public mutating func addBidirectionalStreaming<Request: Message, Response: Message>(
        _ path: String, _ request: Request.Type = Request.self, _ response: Response.Type = Response.self,
        handler: @escaping @Sendable (GRPCCallContext, GRPCServerStream<Response>) -> (GRPCInboundEvent<Request>) -> Void
    ) {
        register(path, GRPCServerMethod(kind: .streaming) { context, writer in
            let stream = GRPCServerStream<Response>(writer: writer)
            let receive = handler(context, stream)
            return { event in
                switch event {
                case .message(let bytes):
                    do throws(GRPCStatus) { receive(.message(try decode(bytes))) } catch {
                        writer.finish(error)
                        receive(.cancelled)
                    }
                case .end: receive(.end)
                case .cancelled: receive(.cancelled)
                }
            }
        })
    }

    private mutating func register(_ path: String, _ method: GRPCServerMethod) {
        precondition(path.hasPrefix("/") && methods[path] == nil, "bad or duplicate gRPC path \(path)")
        methods[path] = method
    }
}

private func decode<Request: Message>(_ bytes: ByteBuffer) throws(GRPCStatus) -> Request {
    do {
        return try Request(serializedBytes: Array(bytes.readableBytesView))
    } catch {
        throw GRPCStatus(.internal, "grpc: error unmarshalling request: \(error)")
    }
}

/// A method with its message types erased: the stream handler deals in message bytes only.
struct GRPCServerMethod: Sendable {
    enum Kind: Sendable {
        /// Exactly one request message, delivered once the client half-closes.
        case unary
        /// Any number of request messages, delivered as they arrive.
        case streaming
    }

    let kind: Kind
    /// Opens a call and returns the receiver of its inbound events (called on the event loop).
    let open: @Sendable (GRPCCallContext, GRPCServerCallWriter) -> (GRPCInboundEvent<ByteBuffer>) -> Void

    static func status(of error: any Error) -> GRPCStatus {
        (error as? GRPCStatus) ?? GRPCStatus(.unknown, "\(error)")
    }
}

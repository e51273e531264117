import NIOCore

/// What a unary handler learns about its call, whether it came over gRPC or the JSON gateway.
public struct RequestContext: Sendable {
    /// The loop the call arrived on. The handler is called on it and must not block it; it may
    /// complete its promise from any thread.
    public var eventLoop: any EventLoop
    /// When the caller stops waiting (gRPC's `grpc-timeout`, or the gateway's `Grpc-Timeout`
    /// header as grpc-gateway reads it); nil when the caller set none. The transport answers
    /// DEADLINE_EXCEEDED at this point whatever the handler does later.
    public var deadline: NIODeadline?
    /// The auth token as etcd looks for it: gRPC metadata `token`, else `authorization` (what
    /// the gateway forwards its `Authorization` header as). Nil when absent.
    public var authToken: String?

    public init(eventLoop: any EventLoop, deadline: NIODeadline? = nil, authToken: String? = nil) {
        self.eventLoop = eventLoop
        self.deadline = deadline
        self.authToken = authToken
    }
}

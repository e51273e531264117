import NIOCore
import NIOPosix
import SwiftProtobuf

/// One HTTP/2 connection (prior knowledge, no TLS) to a gRPC server, carrying any number of
/// concurrent calls, each on its own stream. Safe to use from any thread; a call made off the
/// connection's event loop hops there once.
///
/// The HTTP/2 is Keel's own (`GRPCClientConnection`): frames written straight on the
/// connection's channel, no stream channels. A load generator's CPU per call competes with the
/// server it measures, so a call costs a small object, the caller's promise and its bytes.
public final class GRPCClient: Sendable {
    public let channel: any Channel
    private let connection: NIOLoopBound<GRPCClientConnection>
    private let messageBytesMax: Int

    init(channel: any Channel, connection: NIOLoopBound<GRPCClientConnection>, messageBytesMax: Int) {
        self.channel = channel
        self.connection = connection
        self.messageBytesMax = messageBytesMax
    }

    public static func connect(
        host: String, port: Int, group: any EventLoopGroup,
        configuration: GRPCConnectionConfiguration = GRPCConnectionConfiguration()
    ) -> EventLoopFuture<GRPCClient> {
        ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        GRPCClientConnection(authority: "\(host):\(port)", configuration: configuration))
                }
            }
            .connect(host: host, port: port)
            .flatMap { channel in
                channel.eventLoop.submit {
                    let connection = try channel.pipeline.syncOperations.handler(type: GRPCClientConnection.self)
                    return GRPCClient(
                        channel: channel, connection: NIOLoopBound(connection, eventLoop: channel.eventLoop),
                        messageBytesMax: configuration.messageBytesMax)
                }
            }
    }

    public func close() -> EventLoopFuture<Void> {
        channel.close()
    }

    /// Calls a unary method. Fails with a `GRPCStatus` when the call does not end with OK and
    /// exactly one response message.
    public func unary<Request: Message, Response: Message>(
        _ path: String, _ request: Request, as response: Response.Type = Response.self, timeout: TimeAmount? = nil
    ) -> EventLoopFuture<Response> {
        let promise = channel.eventLoop.makePromise(of: Response.self)
        unary(path, request, as: response, timeout: timeout) { promise.completeWith($0.mapError { $0 }) }
        return promise.futureResult
    }

    /// `unary` calling `completion` once with the outcome, on the connection's event loop
    /// (at once, on the calling thread, when the request cannot be serialized): no promise or
    /// future per call.
    public func unary<Request: Message, Response: Message>(
        _ path: String, _ request: Request, as response: Response.Type = Response.self, timeout: TimeAmount? = nil,
        completion: @escaping @Sendable (Result<Response, GRPCStatus>) -> Void
    ) {
        unaryBytes(path, request, timeout: timeout) { result in
            completion(result.flatMap { bytes in
                do { return .success(try Response(serializedBytes: Array(bytes.readableBytesView))) } catch {
                    return .failure(GRPCStatus(.internal, "cannot parse response: \(error)"))
                }
            })
        }
    }

    /// Calls a unary method and calls `completion` once with its response message's bytes, not
    /// decoded, as the callback form of `unary` does: for a caller that only needs the call to
    /// succeed. keel-bench discards every response, and decoding each was CPU taken from the
    /// server it measures. Fails as `unary` does.
    public func unaryBytes<Request: Message>(
        _ path: String, _ request: Request, timeout: TimeAmount? = nil,
        completion: @escaping @Sendable (Result<ByteBuffer, GRPCStatus>) -> Void
    ) {
        let body: [UInt8]
        do { body = try request.serializedBytes() } catch {
            return completion(.failure(GRPCStatus(.internal, "cannot serialize request: \(error)")))
        }
        let call = GRPCClientCall(path: path, timeout: timeout, messageBytesMax: messageBytesMax, receiver: .unary(completion))
        call.unaryRequest = body
        start(call)
    }

    public func unary<Request: Message, Response: Message>(
        _ path: String, _ request: Request, as response: Response.Type = Response.self, timeout: TimeAmount? = nil
    ) async throws -> Response {
        try await unary(path, request, as: response, timeout: timeout).get()
    }

    /// Opens a call with streams both ways. `onResponse` gets each response message on the
    /// connection's event loop; the call's `status` completes with the trailers' status.
    public func bidirectionalStreaming<Request: Message, Response: Message>(
        _ path: String, _ request: Request.Type = Request.self, _ response: Response.Type = Response.self,
        onResponse: @escaping @Sendable (Response) -> Void
    ) -> GRPCClientStreamingCall<Request> {
        let statusPromise = channel.eventLoop.makePromise(of: GRPCStatus.self)
        let call = GRPCClientCall(
            path: path, timeout: nil, messageBytesMax: messageBytesMax,
            receiver: .streaming(
                onMessage: { bytes throws(GRPCStatus) in
                    let response: Response
                    do {
                        response = try Response(serializedBytes: Array(bytes.readableBytesView))
                    } catch {
                        throw GRPCStatus(.internal, "cannot parse response: \(error)")
                    }
                    onResponse(response)
                },
                onEnd: { ending in
                    switch ending {
                    case .success(let status): statusPromise.succeed(status)
                    case .failure(let status): statusPromise.fail(status)
                    }
                }))
        start(call)
        return GRPCClientStreamingCall(connection: connection, call: call, status: statusPromise.futureResult)
    }

    private func start(_ call: GRPCClientCall) {
        let connection = connection
        if connection.eventLoop.inEventLoop {
            connection.value.startCall(call)
        } else {
            connection.eventLoop.execute { connection.value.startCall(call) }
        }
    }
}

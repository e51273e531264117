import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import SwiftProtobuf

/// One HTTP/2 connection (prior knowledge, no TLS) to a gRPC server, carrying any number of
/// concurrent calls, each on its own stream. Safe to use from any thread.
///
/// It uses the same raised PING/SETTINGS limit as the server: etcd's grpc-go server sends a
/// BDP PING for about every call, which would trip swift-nio-http2's default after ~200 calls.
public final class GRPCClient: Sendable {
    public let channel: any Channel
    private let multiplexer: NIOHTTP2Handler.StreamMultiplexer
    private let authority: String
    private let configuration: GRPCConnectionConfiguration

    private init(
        channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer, authority: String,
        configuration: GRPCConnectionConfiguration
    ) {
        self.channel = channel
        self.multiplexer = multiplexer
        self.authority = authority
        self.configuration = configuration
    }

    public static func connect(
        host: String, port: Int, group: any EventLoopGroup,
        configuration: GRPCConnectionConfiguration = GRPCConnectionConfiguration()
    ) -> EventLoopFuture<GRPCClient> {
        ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: configuration.http2Connection,
                        streamConfiguration: configuration.http2Stream
                    ) { pushed in
                        // Servers do not open streams towards gRPC clients.
                        pushed.close()
                    }
                }
            }
            .connect(host: host, port: port)
            .flatMap { channel in
                channel.pipeline.handler(type: NIOHTTP2Handler.self).flatMap { $0.multiplexer }.map {
                    GRPCClient(
                        channel: channel, multiplexer: $0, authority: "\(host):\(port)", configuration: configuration)
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
        let body: [UInt8]
        do { body = try request.serializedBytes() } catch {
            promise.fail(GRPCStatus(.internal, "cannot serialize request: \(error)"))
            return promise.futureResult
        }
        let stream = openStream(path, timeout: timeout, onMessage: nil) { status, messages in
            guard status.code == .ok else { return promise.fail(status) }
            guard messages.count == 1 else {
                return promise.fail(GRPCStatus(.internal, "\(messages.count) response messages for a unary call"))
            }
            do {
                promise.succeed(try Response(serializedBytes: Array(messages[0].readableBytesView)))
            } catch {
                promise.fail(GRPCStatus(.internal, "cannot parse response: \(error)"))
            }
        }
        stream.whenComplete { result in
            switch result {
            case .success(let channel):
                let framed = GRPCMessageFramer.frame(body, allocator: channel.allocator)
                let data = HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(framed), endStream: true))
                channel.writeAndFlush(data, promise: nil)
            case .failure(let error):
                promise.fail(GRPCStatus(.unavailable, "cannot open a stream: \(error)"))
            }
        }
        return promise.futureResult
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
        let stream = openStream(
            path, timeout: nil, flushHeaders: true,
            onMessage: { bytes in
                do {
                    onResponse(try Response(serializedBytes: Array(bytes.readableBytesView)))
                } catch {
                    statusPromise.fail(GRPCStatus(.internal, "cannot parse response: \(error)"))
                }
            },
            onFinish: { status, _ in statusPromise.succeed(status) })
        stream.whenFailure { statusPromise.fail(GRPCStatus(.unavailable, "cannot open a stream: \($0)")) }
        return GRPCClientStreamingCall(stream: stream, status: statusPromise.futureResult)
    }

    /// Creates a stream, installs its response reader and writes the request headers (a unary
    /// call leaves them unflushed, to go out with its one message).
    private func openStream(
        _ path: String, timeout: TimeAmount?, flushHeaders: Bool = false, onMessage: (@Sendable (ByteBuffer) -> Void)?,
        onFinish: @escaping @Sendable (GRPCStatus, [ByteBuffer]) -> Void
    ) -> EventLoopFuture<any Channel> {
        let messageBytesMax = configuration.messageBytesMax
        var headers: HPACKHeaders = [
            ":method": "POST", ":scheme": "http", ":path": path, ":authority": authority,
            "content-type": GRPCHeaders.contentType, "te": "trailers", "user-agent": "keel-grpc",
        ]
        if let timeout { headers.add(name: GRPCHeaders.timeout, value: GRPCTimeout.format(timeout)) }
        let requestHeaders = headers
        return multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(
                    GRPCClientStreamHandler(messageBytesMax: messageBytesMax, onMessage: onMessage, onFinish: onFinish))
            }
        }.map { stream in
            stream.write(HTTP2Frame.FramePayload.headers(.init(headers: requestHeaders)), promise: nil)
            if flushHeaders { stream.flush() }
            return stream
        }
    }
}

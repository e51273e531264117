import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The client port: gRPC over HTTP/2 (prior knowledge, as etcd clients speak it) and HTTP/1.1
/// on one listening socket, as etcd serves its client URL.
///
/// Each connection starts with a `ClientPortProtocolDetector`; HTTP/2 connections get a
/// `GRPCServerConnection` (Keel's own HTTP/2, with the limits of `GRPCConnectionConfiguration`),
/// which serves each stream as a `GRPCServerCall`; HTTP/1.1 connections go to the responder.
public final class GRPCServer: Sendable {
    /// The listening channel.
    public let channel: any Channel
    /// The port actually bound (useful when asked for port 0).
    public let port: Int
    private let connections: ConnectionRegistry
    private let streams: StreamCount

    private init(channel: any Channel, connections: ConnectionRegistry, streams: StreamCount) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.connections = connections
        self.streams = streams
    }

    /// gRPC streams open now, on every connection (a call whose stream never left its
    /// connection's table would show here, holding its buffers).
    public var liveStreams: Int { streams.live.load(ordering: .relaxed) }

    /// Binds `host:port` (port 0 picks a free one) and starts accepting connections.
    public static func start(
        host: String, port: Int, group: any EventLoopGroup, methods: GRPCMethodTable,
        http1: any HTTP1Responder = HTTP1NotFoundResponder(),
        configuration: GRPCConnectionConfiguration = GRPCConnectionConfiguration(),
        http1BodyBytesMax: Int = 2 * 1024 * 1024
    ) -> EventLoopFuture<GRPCServer> {
        let connections = ConnectionRegistry()
        let streams = StreamCount()
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let detector = ClientPortProtocolDetector(
                        configureHTTP2: { channel in
                            try configureGRPC(channel, methods: methods, configuration: configuration, streams: streams)
                        },
                        configureHTTP1: { channel in
                            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                            try channel.pipeline.syncOperations.addHandler(
                                HTTP1ServerHandler(responder: http1, bodyBytesMax: http1BodyBytesMax))
                        })
                    try channel.pipeline.syncOperations.addHandler(detector)
                }
            }
            .bind(host: host, port: port)
            .map { GRPCServer(channel: $0, connections: connections, streams: streams) }
    }

    /// Stops listening, then closes every open connection (calls in flight end for their
    /// clients as UNAVAILABLE). Completes when the listener and every connection are closed.
    public func close() -> EventLoopFuture<Void> {
        let eventLoop = channel.eventLoop
        return channel.close().flatMap {
            let closed = self.connections.all.map { connection in
                connection.close().recover { _ in }  // already closing on its own: fine
            }
            return EventLoopFuture.andAllSucceed(closed, on: eventLoop)
        }
    }

    private static func configureGRPC(
        _ channel: any Channel, methods: GRPCMethodTable, configuration: GRPCConnectionConfiguration, streams: StreamCount
    ) throws {
        try channel.pipeline.syncOperations.addHandler(
            GRPCServerConnection(methods: methods, configuration: configuration, count: streams, eventLoop: channel.eventLoop))
    }
}

/// How many streams of one server are open.
final class StreamCount: Sendable {
    let live = Atomic<Int>(0)
}

/// The server's open connections, so `close` can end them; each leaves when it closes.
private final class ConnectionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in
            _ = self.channels.withLock { $0.removeValue(forKey: id) }
        }
    }

    var all: [any Channel] { channels.withLock { Array($0.values) } }
}

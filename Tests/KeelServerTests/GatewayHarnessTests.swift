// Support for the gateway and service-route suites: a fake KV service registered through
// ServiceRoutes, a real GRPCServer on 127.0.0.1 port 0, and a plain HTTP/1.1 client.
import KeelAPI
import KeelServer
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A dictionary-backed KV on etcd's methods: Put and Range (exact key or [key, range_end)),
/// DeleteRange refusing an empty key as etcd does, Compact refusing a future revision, Txn
/// always failing as a member without leader does, and LeaseGrant failing with a plain
/// (non-gRPC) error. Put is completed from another loop, as the node's apply loop will.
final class FakeKV: Sendable {
    private struct State {
        var values: [[UInt8]: Mvccpb_KeyValue] = [:]
        var revision: Int64 = 1
    }

    private let state = Mutex(State())
    private let applyLoop: any EventLoop
    /// The last auth token a handler saw.
    let lastToken = Mutex<String?>(nil)

    init(applyLoop: any EventLoop) {
        self.applyLoop = applyLoop
    }

    struct PlainError: Error, CustomStringConvertible {
        var description: String { "disk on fire" }
    }

    func register(in routes: inout ServiceRoutes) {
        routes.unary(EtcdMethod.kv[1]) { [self] (request: Etcdserverpb_PutRequest, context, reply: GRPCReply<Etcdserverpb_PutResponse>) in
            lastToken.withLock { $0 = context.authToken }
            applyLoop.execute { reply.succeed(self.put(request)) }
        }
        routes.unary(EtcdMethod.kv[0]) { [self] (request: Etcdserverpb_RangeRequest, context, reply: GRPCReply<Etcdserverpb_RangeResponse>) in
            lastToken.withLock { $0 = context.authToken }
            reply.succeed(range(request))
        }
        routes.unary(EtcdMethod.kv[2]) { (request: Etcdserverpb_DeleteRangeRequest, _, reply: GRPCReply<Etcdserverpb_DeleteRangeResponse>) in
            guard !request.key.isEmpty else {
                return reply.fail(GRPCStatus(.invalidArgument, "etcdserver: key is not provided"))
            }
            reply.succeed(.init())
        }
        routes.unary(EtcdMethod.kv[3]) { (_: Etcdserverpb_TxnRequest, _, reply: GRPCReply<Etcdserverpb_TxnResponse>) in
            reply.fail(GRPCStatus(.unavailable, "etcdserver: no leader"))
        }
        routes.unary(EtcdMethod.kv[4]) { [self] (request: Etcdserverpb_CompactionRequest, _, reply: GRPCReply<Etcdserverpb_CompactionResponse>) in
            let current = state.withLock { $0.revision }
            guard request.revision <= current else {
                return reply.fail(GRPCStatus(.outOfRange, "mvcc: required revision is a future revision"))
            }
            reply.succeed(.init())
        }
        routes.unary(EtcdMethod.lease[0]) { (_: Etcdserverpb_LeaseGrantRequest, _, reply: GRPCReply<Etcdserverpb_LeaseGrantResponse>) in
            reply.fail(PlainError())
        }
        // Answers only after the caller's deadline (at once without one).
        routes.unary(EtcdMethod.maintenance[1]) { (_: Etcdserverpb_StatusRequest, context, reply: GRPCReply<Etcdserverpb_StatusResponse>) in
            guard let deadline = context.deadline else { return reply.succeed(.init()) }
            context.eventLoop.scheduleTask(deadline: deadline + .milliseconds(200)) { reply.succeed(.init()) }
        }
        routes.bidirectionalStreaming(EtcdMethod.watch[0]) { (_, stream: GRPCServerStream<Etcdserverpb_WatchResponse>) in
            { (event: GRPCInboundEvent<Etcdserverpb_WatchRequest>) in
                if case .end = event { stream.finish() }
            }
        }
    }

    private func put(_ request: Etcdserverpb_PutRequest) -> Etcdserverpb_PutResponse {
        state.withLock { state in
            state.revision += 1
            var kv = Mvccpb_KeyValue()
            kv.key = request.key
            kv.value = request.value
            kv.modRevision = state.revision
            kv.createRevision = state.values[Array(request.key)]?.createRevision ?? state.revision
            kv.version = (state.values[Array(request.key)]?.version ?? 0) + 1
            kv.lease = request.lease
            state.values[Array(request.key)] = kv
            var response = Etcdserverpb_PutResponse()
            response.header.revision = state.revision
            response.header.clusterID = 0xdead_beef_0000_0001
            return response
        }
    }

    private func range(_ request: Etcdserverpb_RangeRequest) -> Etcdserverpb_RangeResponse {
        state.withLock { state in
            let key = Array(request.key)
            let end = Array(request.rangeEnd)
            let matches = state.values.filter { entry in
                end.isEmpty ? entry.key == key : entry.key.lexicographicallyPrecedes(end) && !entry.key.lexicographicallyPrecedes(key)
            }.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.value)
            var response = Etcdserverpb_RangeResponse()
            response.header.revision = state.revision
            response.kvs = matches
            response.count = Int64(matches.count)
            return response
        }
    }
}

/// A GRPCServer on a free 127.0.0.1 port serving FakeKV over gRPC and the gateway.
struct GatewayHarness {
    let group: MultiThreadedEventLoopGroup
    let server: GRPCServer
    let metrics: EtcdMetrics
    let kv: FakeKV
    /// What the health check answers, and the last query it was asked.
    let healthBox: HealthBox

    static func with<T>(_ body: (GatewayHarness) async throws -> T) async throws -> T {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let metrics = EtcdMetrics()
        let kv = FakeKV(applyLoop: group.next())
        var routes = ServiceRoutes(metrics: metrics.grpc)
        kv.register(in: &routes)
        let healthBox = HealthBox()
        let responder = GatewayResponder(
            routes: routes, metrics: metrics, serverVersion: "3.5.33", clusterVersion: { "3.5.0" },
            health: { query, loop in
                healthBox.lastQuery.withLock { $0 = query }
                return loop.makeSucceededFuture(healthBox.status.withLock { $0 })
            })
        let server: GRPCServer
        do {
            server = try await GRPCServer.start(
                host: "127.0.0.1", port: 0, group: group, methods: routes.grpcMethods, http1: responder
            ).get()
        } catch {
            try await group.shutdownGracefully()
            throw error
        }
        let harness = GatewayHarness(
            group: group, server: server, metrics: metrics, kv: kv, healthBox: healthBox)
        let result: Result<T, any Error>
        do { result = .success(try await body(harness)) } catch { result = .failure(error) }
        try? await server.close().get()
        try await group.shutdownGracefully()
        return try result.get()
    }

    func post(_ path: String, _ body: String, headers: [(String, String)] = []) async throws -> HTTPAnswer {
        try await HTTPAnswer.fetch(port: server.port, group: group, method: .POST, path: path, body: body, headers: headers)
    }

    func get(_ path: String) async throws -> HTTPAnswer {
        try await HTTPAnswer.fetch(port: server.port, group: group, method: .GET, path: path, body: "", headers: [])
    }

    func grpc() async throws -> GRPCClient {
        try await GRPCClient.connect(host: "127.0.0.1", port: server.port, group: group).get()
    }
}

final class HealthBox: Sendable {
    let status = Mutex(HealthStatus(healthy: true))
    let lastQuery = Mutex<HealthQuery?>(nil)
}

/// One HTTP/1.1 exchange on its own connection.
struct HTTPAnswer: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: String

    static func fetch(
        port: Int, group: any EventLoopGroup, method: HTTPMethod, path: String, body: String, headers: [(String, String)]
    ) async throws -> HTTPAnswer {
        let promise = group.next().makePromise(of: HTTPAnswer.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(AnswerCollector(promise: promise))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "host", value: "127.0.0.1:\(port)")
        head.headers.add(name: "content-length", value: String(body.utf8.count))
        head.headers.add(name: "connection", value: "close")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        channel.closeFuture.whenComplete { _ in promise.fail(ChannelError.ioOnClosedChannel) }
        return try await promise.futureResult.get()
    }
}

private final class AnswerCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    private let promise: EventLoopPromise<HTTPAnswer>
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    init(promise: EventLoopPromise<HTTPAnswer>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body(var bytes): body.writeBuffer(&bytes)
        case .end:
            guard let head else { return }
            promise.succeed(HTTPAnswer(status: head.status, headers: head.headers, body: String(buffer: body)))
            context.close(promise: nil)
        }
    }
}

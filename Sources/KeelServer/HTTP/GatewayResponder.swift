import KeelAPI
import NIOCore
import NIOHTTP1

/// The HTTP/1.1 side of the client port, answering as etcd 3.5 does (server/embed/serve.go):
///
/// - `POST /v3/<route>`: etcd's JSON gateway (grpc-gateway v1.16) for every unary method
///   registered in `ServiceRoutes`. The body is the request in GatewayJSON (an empty body is an
///   empty request); the answer is 200 with the response as JSON, or, when the call fails,
///   the HTTP status grpc-gateway maps the gRPC code to with `{"error","code","message"}`.
///   A body that is not the request's JSON is INVALID_ARGUMENT (400). `Grpc-Timeout` sets the
///   call's deadline and `Authorization` its auth token, as grpc-gateway forwards them.
///   An unknown route is 404 `Not Found`, a known one asked with another method 405
///   `Method Not Allowed` (plain text, as grpc-gateway answers without an error handler).
///   Bidirectional-streaming methods registered with `ServiceRoutes.gatewayStreaming` (Watch)
///   answer 200 with a chunked stream of `{"result":...}` lines (`GatewayStreamMethod`); the
///   others (LeaseKeepAlive until registered, Snapshot) answer as unknown routes do.
/// - `/v3beta/...` is rewritten to `/v3/...` first, as etcd 3.5 still does for old clients.
/// - `GET /health[?serializable=true&exclude=NOSPACE]`: `{"health":"true","reason":""}` with
///   200, or the same shape with "false" and 503 (as plain text, like etcd's `http.Error`).
/// - `GET /version`: `{"etcdserver":"3.5.x","etcdcluster":"3.5.0"}`, the cluster version
///   "not_decided" until there is one.
/// - `/metrics`: the registry in Prometheus text format 0.0.4.
/// - `GET /debug/latency[?reset=true]`: Keel's own, the built-in latency harness as JSON
///   (`StageLatencies.json()`); with `reset=true` the stages start over after this answer.
/// - `POST /debug/peers/{partition,heal}`: Keel's own partition switch, only under
///   `--experimental-peer-fault-injection` (`PeerFaultEndpoint`).
/// - `OPTIONS` anything: 200 with no body; every answer carries etcd's CORS headers when the
///   origin is allowed (etcd's default `--cors` is `*`).
/// - Anything else: Go's `404 page not found`.
public final class GatewayResponder: HTTP1Responder {
    private let routes: ServiceRoutes
    private let metrics: EtcdMetrics
    private let serverVersion: String
    private let clusterVersion: @Sendable () -> String?
    private let health: @Sendable (HealthQuery, any EventLoop) -> EventLoopFuture<HealthStatus>
    private let allowedOrigins: Set<String>
    private let peerFaults: PeerFaultEndpoint?

    /// - Parameters:
    ///   - clusterVersion: the decided cluster version ("3.5.0"), nil before it is decided.
    ///   - health: runs the node's health check for the query; called on the connection's
    ///     event loop, it must not block it. A failed future answers unhealthy with the error.
    ///   - allowedOrigins: etcd's `--cors` (default `*`).
    ///   - peerFaults: the transport to serve the partition switch for
    ///     (`--experimental-peer-fault-injection`), nil to leave `/debug/peers` unknown.
    public init(
        routes: ServiceRoutes, metrics: EtcdMetrics, serverVersion: String,
        clusterVersion: @escaping @Sendable () -> String?,
        health: @escaping @Sendable (HealthQuery, any EventLoop) -> EventLoopFuture<HealthStatus>,
        allowedOrigins: Set<String> = ["*"], peerFaults: PeerTransport? = nil
    ) {
        self.peerFaults = peerFaults.map(PeerFaultEndpoint.init(transport:))
        self.routes = routes
        self.metrics = metrics
        self.serverVersion = serverVersion
        self.clusterVersion = clusterVersion
        self.health = health
        self.allowedOrigins = allowedOrigins
    }

    public func respond(to request: HTTP1Request, on eventLoop: any EventLoop, promise: EventLoopPromise<HTTP1Response>) {
        let cors = corsHeaders(request.head.headers.first(name: "origin"))
        let withCORS = eventLoop.makePromise(of: HTTP1Response.self)
        withCORS.futureResult.map { response in
            var response = response
            response.headers.add(contentsOf: cors)
            return response
        }.cascade(to: promise)
        if request.head.method == .OPTIONS { return withCORS.succeed(HTTP1Response(status: .ok)) }
        let (rawPath, query) = Self.splitURI(request.head.uri)
        let path = rawPath.hasPrefix("/v3beta/") ? "/v3/" + rawPath.dropFirst("/v3beta/".count) : rawPath
        switch path {
        case "/health":
            guard request.head.method == .GET else { return withCORS.succeed(Self.methodNotAllowed(allow: "GET")) }
            serveHealth(Self.healthQuery(query), on: eventLoop, promise: withCORS)
        case "/version":
            guard request.head.method == .GET else { return withCORS.succeed(Self.methodNotAllowed(allow: "GET")) }
            withCORS.succeed(versionResponse())
        case "/metrics":
            withCORS.succeed(
                HTTP1Response(
                    status: .ok, headers: ["content-type": MetricsRegistry.contentType],
                    body: ByteBuffer(string: metrics.registry.exposition())))
        case "/debug/latency":
            guard request.head.method == .GET else { return withCORS.succeed(Self.methodNotAllowed(allow: "GET")) }
            let body = metrics.stages.json()
            if query.split(separator: "&").contains("reset=true") { metrics.stages.reset() }
            withCORS.succeed(HTTP1Response(status: .ok, headers: ["content-type": "application/json"], body: ByteBuffer(string: body)))
        default:
            if path.hasPrefix("/debug/peers/"), let answer = peerFaults?.respond(path: path, query: query, method: request.head.method) {
                withCORS.succeed(answer)
            } else if path.hasPrefix("/v3/") {
                serveGateway(path, request, on: eventLoop, promise: withCORS)
            } else {
                withCORS.succeed(GatewayError.plainText(.notFound, "404 page not found"))
            }
        }
    }

    private func serveGateway(
        _ route: String, _ request: HTTP1Request, on eventLoop: any EventLoop, promise: EventLoopPromise<HTTP1Response>
    ) {
        if let stream = routes.gatewayStream(forRoute: route) {
            return serveStream(stream, request, on: eventLoop, promise: promise)
        }
        guard let method = routes.gatewayMethod(forRoute: route) else {
            return promise.succeed(GatewayError.plainText(.notFound, "Not Found"))
        }
        guard request.head.method == .POST else {
            return promise.succeed(GatewayError.plainText(.methodNotAllowed, "Method Not Allowed"))
        }
        var context = RequestContext(eventLoop: eventLoop, authToken: request.head.headers.first(name: "authorization"))
        if let timeout = request.head.headers.first(name: "grpc-timeout") {
            guard let amount = GRPCTimeout.parse(Substring(timeout)) else {
                let status = GRPCStatus(.invalidArgument, "invalid grpc-timeout: \(timeout)")
                return promise.succeed(GatewayError.response(for: status))
            }
            context.deadline = .now() + amount
        }
        let answer: EventLoopFuture<String>
        switch method.call(request.body, context) {
        case .success(let future): answer = future
        case .failure(let refusal): return promise.succeed(GatewayError.response(for: refusal))
        }
        let result = eventLoop.makePromise(of: String.self)
        answer.cascade(to: result)
        if let deadline = context.deadline {
            // grpc-go's client gives up at the deadline whatever the server does later; the
            // gateway then answers 504. A result arriving afterwards is dropped by the promise.
            let expiry = eventLoop.scheduleTask(deadline: deadline) {
                result.fail(GRPCStatus(.deadlineExceeded, "context deadline exceeded"))
            }
            result.futureResult.whenComplete { _ in expiry.cancel() }
        }
        result.futureResult.whenComplete { outcome in
            var response: HTTP1Response
            switch outcome {
            case .success(let json):
                response = HTTP1Response(
                    status: .ok, headers: ["content-type": "application/json"], body: ByteBuffer(string: json))
            case .failure(let error):
                response = GatewayError.response(for: error)
            }
            // grpc-gateway copies the gRPC response's header metadata as Grpc-Metadata-* headers;
            // from etcd that is its content type, on every call that reached the server.
            response.headers.add(name: "grpc-metadata-content-type", value: "application/grpc")
            promise.succeed(response)
        }
    }

    /// A streaming method (Watch): the response streams until the client goes away.
    private func serveStream(
        _ stream: GatewayStreamMethod, _ request: HTTP1Request, on eventLoop: any EventLoop,
        promise: EventLoopPromise<HTTP1Response>
    ) {
        guard request.head.method == .POST else {
            return promise.succeed(GatewayError.plainText(.methodNotAllowed, "Method Not Allowed"))
        }
        let context = RequestContext(eventLoop: eventLoop, authToken: request.head.headers.first(name: "authorization"))
        var response = stream.open(request.body, context)
        response.headers.add(name: "grpc-metadata-content-type", value: "application/grpc")
        promise.succeed(response)
    }

    private func serveHealth(_ query: HealthQuery, on eventLoop: any EventLoop, promise: EventLoopPromise<HTTP1Response>) {
        let metrics = metrics
        health(query, eventLoop).recover { error in
            HealthStatus(healthy: false, reason: "\(error)")
        }.whenSuccess { status in
            if status.healthy {
                metrics.healthSuccesses.increment()
                // etcd writes the JSON without a content type; Go's sniffing then labels it as text.
                promise.succeed(
                    HTTP1Response(
                        status: .ok, headers: ["content-type": "text/plain; charset=utf-8"],
                        body: ByteBuffer(string: status.json)))
            } else {
                metrics.healthFailures.increment()
                promise.succeed(GatewayError.plainText(.serviceUnavailable, status.json))
            }
        }
    }

    private func versionResponse() -> HTTP1Response {
        let json = GoJSON.object([
            ("etcdserver", GoJSON.quoted(serverVersion)), ("etcdcluster", GoJSON.quoted(clusterVersion() ?? "not_decided")),
        ])
        return HTTP1Response(status: .ok, headers: ["content-type": "application/json"], body: ByteBuffer(string: json))
    }

    private func corsHeaders(_ origin: String?) -> HTTPHeaders {
        let allowed: String
        if allowedOrigins.contains("*") {
            allowed = "*"
        } else if let origin, allowedOrigins.contains(origin) {
            allowed = origin
        } else {
            return [:]
        }
        return [
            "access-control-allow-methods": "POST, GET, OPTIONS, PUT, DELETE",
            "access-control-allow-origin": allowed,
            "access-control-allow-headers": "accept, content-type, authorization",
        ]
    }

    /// etcd's `allowMethod`: 405 with `Allow` and Go's plain-text error.
    private static func methodNotAllowed(allow: String) -> HTTP1Response {
        GatewayError.plainText(.methodNotAllowed, "Method Not Allowed", headers: ["allow": allow])
    }

    static func splitURI(_ uri: String) -> (path: String, query: Substring) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, "") }
        return (String(uri[..<mark]), uri[uri.index(after: mark)...])
    }

    /// `serializable=true` and every non-empty `exclude=`, read as Go's `url.ParseQuery` reads a
    /// query (`+` is a space, `%XX` a byte).
    static func healthQuery(_ query: Substring) -> HealthQuery {
        var result = HealthQuery()
        var serializableSeen = false
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = formDecoded(parts[0])
            let value = parts.count == 2 ? formDecoded(parts[1]) : ""
            switch key {
            // Go's Query().Get returns the first value.
            case "serializable" where !serializableSeen:
                serializableSeen = true
                result.serializable = value == "true"
            case "exclude" where !value.isEmpty: result.excludedAlarms.insert(value)
            default: break
            }
        }
        return result
    }

    private static func formDecoded(_ text: Substring) -> String {
        GRPCStatus.percentDecoded(text.replacingOccurrences(of: "+", with: " "))
    }
}

extension Substring {
    fileprivate func replacingOccurrences(of target: Character, with replacement: String) -> String {
        var out = ""
        for character in self { if character == target { out += replacement } else { out.append(character) } }
        return out
    }
}

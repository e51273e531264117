import KeelRaft
import NIOCore
import NIOPosix

/// Who asks what, for a ``PeerRequestHandler``.
public struct PeerCall: Sendable {
    public var method: PeerMethod
    /// The calling member; `.none` for a caller outside the cluster (only ever with `members`).
    public var from: NodeID
    /// The loop of the connection the request came in on: the handler may complete there.
    public var eventLoop: any EventLoop
}

/// Answers requests from other members: the future's value is the response payload; a failed
/// future is answered as `failed` with the error's description as its text (so an
/// ``EtcdError`` arrives as etcd's message). Called on event-loop threads, several requests at
/// once, each on its connection's loop; it must not block. Requests whose method is unknown or
/// not open to the caller never reach it.
public typealias PeerRequestHandler = @Sendable (_ call: PeerCall, _ payload: [UInt8]) -> EventLoopFuture<[UInt8]>

/// What a one-off call from outside the cluster brought back: who answered, and the payload.
public struct PeerFetchAnswer: Sendable, Hashable {
    public var clusterID: UInt64
    public var member: NodeID
    public var payload: [UInt8]
}

extension PeerTransport {
    /// The handler that answers requests from other members; install it before they call
    /// (until then a request is answered `failed`). Replaces an earlier one.
    public func setRequestHandler(_ handler: @escaping PeerRequestHandler) {
        requests.requestHandler = handler
    }

    /// Calls `method` on `peer` with `payload` over the requests connection to it (made on the
    /// first request, re-made after a loss) and completes with the answer's payload, or fails
    /// with a ``PeerRequestError``: `timedOut` after `timeout`, `connectionLost` when the
    /// connection goes before the answer (every waiting request fails then), `failed` with the
    /// peer's error text. Several requests may wait at once; each is answered on its own. The
    /// future completes on an event loop of the transport's group. From any thread.
    public func request(to peer: NodeID, method: PeerMethod, payload: [UInt8], timeout: TimeAmount) -> EventLoopFuture<[UInt8]> {
        if isPartitioned(peer) { return group.next().makeFailedFuture(PeerRequestError.partitioned(peer)) }
        switch requests.connection(to: peer, environment: environment) {
        case .success(let connection): return connection.call(method, payload: payload, timeout: timeout)
        case .failure(let error): return group.next().makeFailedFuture(error)
        }
    }

    /// Calls `method` on the member listening at `address` as a caller outside the cluster
    /// (cluster id 0, member id 0): what a member joining an existing cluster does before it
    /// knows either id. The listener answers only `members` to such a caller (others fail with
    /// `failed(.refused, ...)`). One connection, closed after the answer.
    public static func fetch(address: PeerAddress, method: PeerMethod, payload: [UInt8] = [], group: any EventLoopGroup,
                             timeout: TimeAmount = .seconds(5), connectTimeoutMilliseconds: Int64 = 1000,
                             frameBytesMax: Int = PeerFrameCodec.frameBytesMaxDefault) -> EventLoopFuture<PeerFetchAnswer> {
        let settings = PeerRequestConnection.Settings(
            hello: PeerHello(clusterID: 0, from: .none, to: .none, stream: .requests), address: address,
            frameBytesMax: frameBytesMax, connectTimeoutMilliseconds: connectTimeoutMilliseconds,
            unacknowledgedTimeoutMilliseconds: Int(clamping: max(timeout.nanoseconds / 1_000_000, 1)), inflightMax: 1)
        let connection = PeerRequestConnection(settings: settings, eventLoop: group.next()) { _ in }
        let answer = connection.call(method, payload: payload, timeout: timeout).map { payload in
            // The reply is recorded before any response is read, on this same loop.
            PeerFetchAnswer(clusterID: connection.reply!.clusterID, member: connection.reply!.member, payload: payload)
        }
        answer.whenComplete { _ in _ = connection.stop() }
        return answer
    }

    /// Answers one request that arrived on an accepted requests connection of `caller`.
    func serve(_ request: PeerRequestFrame, from caller: NodeID, on eventLoop: any EventLoop) -> EventLoopFuture<PeerResponseFrame> {
        func answer(_ status: PeerResponseStatus, _ error: String) -> EventLoopFuture<PeerResponseFrame> {
            eventLoop.makeSucceededFuture(PeerResponseFrame(id: request.id, status: status, error: error, payload: []))
        }
        guard let method = PeerMethod(rawValue: request.method) else {
            return answer(.unknownMethod, "unknown peer method \(request.method)")
        }
        guard caller != .none || method == .members else {
            return answer(.refused, "peer method \(method) is not open to callers outside the cluster")
        }
        guard caller == .none || isPeer(caller) else {
            return answer(.refused, "member \(hex(caller.rawValue)) is not in the cluster")
        }
        guard let handler = requests.requestHandler else {
            return answer(.failed, "member \(hex(environment.local.rawValue)) serves no peer requests yet")
        }
        return handler(PeerCall(method: method, from: caller, eventLoop: eventLoop), request.payload).hop(to: eventLoop)
            .map { payload in PeerResponseFrame(id: request.id, status: .ok, error: "", payload: payload) }
            .recover { error in PeerResponseFrame(id: request.id, status: .failed, error: "\(error)", payload: []) }
    }
}

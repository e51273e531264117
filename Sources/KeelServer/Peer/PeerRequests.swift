import KeelRaft
import NIOCore
import Synchronization

/// A transport's requests side: each peer's address, its requests connection (made on the
/// first request, replaced after it closes), and the handler that answers requests from others.
final class PeerRequests: Sendable {
    private struct State {
        var addresses: [NodeID: PeerAddress] = [:]
        var connections: [NodeID: PeerRequestConnection] = [:]
        var stopped = false
    }

    private let state = Mutex(State())
    private let handler = Mutex<PeerRequestHandler?>(nil)
    private let group: any EventLoopGroup

    init(group: any EventLoopGroup) {
        self.group = group
    }

    var requestHandler: PeerRequestHandler? {
        get { handler.withLock { $0 } }
        set { handler.withLock { $0 = newValue } }
    }

    /// The connection to `peer`, made now if there is none (or the last one finished).
    func connection(to peer: NodeID, environment: PeerLinkEnvironment) -> Result<PeerRequestConnection, PeerRequestError> {
        let configuration = environment.configuration
        return state.withLock { state in
            guard !state.stopped else { return .failure(.stopped) }
            if let connection = state.connections[peer] { return .success(connection) }
            guard let address = state.addresses[peer] else { return .failure(.notAPeer(peer)) }
            let settings = PeerRequestConnection.Settings(
                hello: PeerHello(clusterID: configuration.clusterID, from: configuration.localMember, to: peer, stream: .requests),
                address: address, frameBytesMax: configuration.frameBytesMax,
                connectTimeoutMilliseconds: configuration.connectTimeoutMilliseconds,
                unacknowledgedTimeoutMilliseconds: configuration.unacknowledgedTimeoutMilliseconds, inflightMax: configuration.requestsInflightMax)
            let connection = PeerRequestConnection(settings: settings, eventLoop: group.next()) { [self] finished in
                forget(finished, peer: peer)
            }
            state.connections[peer] = connection
            return .success(connection)
        }
    }

    /// Records `peer`'s address (nil: removed). A connection to an old address is stopped; the
    /// next request calls the new one.
    func setPeer(_ peer: NodeID, address: PeerAddress?) {
        let stale = state.withLock { state -> PeerRequestConnection? in
            let previous = state.addresses[peer]
            state.addresses[peer] = address
            guard previous != address else { return nil }
            return state.connections.removeValue(forKey: peer)
        }
        _ = stale?.stop()
    }

    /// Whether ``stop()`` was called.
    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Stops every connection (their waiting requests fail with `stopped`); no new ones after.
    func stop() -> [EventLoopFuture<Void>] {
        let all = state.withLock { state in
            state.stopped = true
            defer { state.connections.removeAll() }
            return state.connections.sorted { $0.key < $1.key }.map(\.value)
        }
        return all.map { $0.stop() }
    }

    private func forget(_ connection: PeerRequestConnection, peer: NodeID) {
        state.withLock { state in
            if state.connections[peer] === connection { state.connections[peer] = nil }
        }
    }
}

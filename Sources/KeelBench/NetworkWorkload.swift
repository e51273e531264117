import KeelAPI
import NIOCore

/// How a workload reports one request: the kind to count it under besides the total
/// (txn-mixed's reads and writes) or nil, or why it failed.
typealias NetworkCompletion = @Sendable (Result<NetworkOperationKind?, any Error>) -> Void

/// What one network workload sends. `NetworkRun` owns the clients, pacing, stopping and
/// measuring; a workload only says how a client starts, what request `number` is, and how a
/// client ends. Every method is called on the event loop of the client's connection.
protocol NetworkWorkload: Sendable {
    /// Per-client state (a lease and its keepalive stream); `Void` when there is none.
    associatedtype Client: Sendable

    /// Prepares client `index` on `connection` before the clock starts.
    func makeClient(_ connection: GRPCClient, index: Int) -> EventLoopFuture<Client>

    /// Sends request `number` (unique across all clients) and calls `completion` once when it
    /// is answered, on the connection's event loop. A callback rather than a future:
    /// keel-bench's CPU per request is taken from the server it measures.
    func send(_ client: Client, on connection: GRPCClient, number: Int, completion: @escaping NetworkCompletion)

    /// Ends a client after the clock stopped (best effort: failures are ignored).
    func finish(_ client: Client, on connection: GRPCClient) -> EventLoopFuture<Void>
}

extension NetworkWorkload where Client == Void {
    func makeClient(_ connection: GRPCClient, index: Int) -> EventLoopFuture<Void> {
        connection.channel.eventLoop.makeSucceededVoidFuture()
    }

    func finish(_ client: Void, on connection: GRPCClient) -> EventLoopFuture<Void> {
        connection.channel.eventLoop.makeSucceededVoidFuture()
    }
}

/// A kind of request a mixed workload reports apart.
enum NetworkOperationKind: Int, CaseIterable, Sendable {
    case read, write

    var name: String {
        switch self {
        case .read: "read"
        case .write: "write"
        }
    }
}

/// What the requests of one connection measured: touched only by that connection's event
/// loop while the run goes, read after it ended.
final class NetworkRecorder: @unchecked Sendable {
    // Unchecked: see above; the run's futures order the last write before the first read.
    var latency = LatencyRecorder()
    var kinds = NetworkOperationKind.allCases.map { _ in LatencyRecorder() }
    var series = NetworkSeries()
    var failures = 0
    var firstError: String?

    func recordSuccess(kind: NetworkOperationKind?, latencyNanoseconds: UInt64, offsetNanoseconds: UInt64) {
        latency.record(nanoseconds: latencyNanoseconds)
        if let kind { kinds[kind.rawValue].record(nanoseconds: latencyNanoseconds) }
        series.record(offsetNanoseconds: offsetNanoseconds, latencyNanoseconds: latencyNanoseconds)
    }

    func recordFailure(_ error: any Error) {
        failures += 1
        if firstError == nil { firstError = "\(error)" }
    }
}

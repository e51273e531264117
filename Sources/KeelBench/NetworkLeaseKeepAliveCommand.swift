import ArgumentParser
import KeelAPI
import NIOCore

/// `keel-bench lease-keepalive`: each client holds one lease and renews it on its own
/// LeaseKeepAlive stream as fast as answers come, as etcd's `benchmark lease-keepalive`.
struct NetworkLeaseKeepAliveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lease-keepalive",
        abstract: "Renew leases on LeaseKeepAlive streams over the etcd v3 API, measuring each keepalive.",
        discussion: """
        Before the clock starts, each client grants a lease of --ttl seconds and opens a \
        LeaseKeepAlive stream; a request is then one keepalive sent and its answer received \
        on that stream. Afterwards the streams are closed and the leases revoked. Keys and \
        values are not used.
        """
    )

    @OptionGroup var options: NetworkOptions
    @Option(help: "TTL of the granted leases in seconds.")
    var ttl = 60

    func validate() throws {
        guard ttl >= 1 else { throw ValidationError("--ttl must be at least 1 second") }
    }

    func run() throws {
        let connections = try NetworkConnections(options)
        defer { connections.close() }
        let run = NetworkRun(workload: NetworkKeepAliveWorkload(ttlSeconds: Int64(ttl)), connections: connections.clients,
                             clients: options.clients, stop: options.stop, rate: options.rate)
        var result = NetworkResult(workload: "lease-keepalive", options: options,
                                   measurement: try run.run(label: "lease-keepalive", progress: ProgressLine()))
        result.parameters = result.parameters.filter { !["key size", "value size", "key space", "keys"].contains($0.0) }
        result.parameters.append(("ttl", "\(ttl) s"))
        try result.emit(options)
    }
}

/// A client's lease and keepalive stream. The stream answers keepalives in the order sent,
/// so answers complete the waiting keepalives first in, first out.
final class NetworkKeepAliveClient: @unchecked Sendable {
    // Unchecked: used only on its connection's event loop.
    let leaseID: Int64
    var call: GRPCClientStreamingCall<Etcdserverpb_LeaseKeepAliveRequest>?
    var waiting: [NetworkCompletion] = []
    var waitingHead = 0

    init(leaseID: Int64) { self.leaseID = leaseID }

    func answered(_ response: Etcdserverpb_LeaseKeepAliveResponse) {
        guard let completion = takeWaiting() else { return }
        completion(response.ttl > 0 ? .success(nil) : .failure(BenchFailure("lease \(leaseID) not found")))
    }

    func ended(_ reason: String) {
        while let completion = takeWaiting() { completion(.failure(BenchFailure("keepalive stream ended: \(reason)"))) }
    }

    private func takeWaiting() -> NetworkCompletion? {
        guard waitingHead < waiting.count else { return nil }
        let completion = waiting[waitingHead]
        waitingHead += 1
        if waitingHead == waiting.count { waiting.removeAll(keepingCapacity: true); waitingHead = 0 }
        return completion
    }
}

struct NetworkKeepAliveWorkload: NetworkWorkload {
    let ttlSeconds: Int64

    func makeClient(_ connection: GRPCClient, index: Int) -> EventLoopFuture<NetworkKeepAliveClient> {
        var grant = Etcdserverpb_LeaseGrantRequest()
        grant.ttl = ttlSeconds
        let granted: EventLoopFuture<Etcdserverpb_LeaseGrantResponse> = connection.unary(EtcdPaths.leaseGrant, grant)
        return granted.flatMapThrowing { response in
            guard response.error.isEmpty else { throw BenchFailure("lease grant: \(response.error)") }
            let client = NetworkKeepAliveClient(leaseID: response.id)
            // Responses and the status arrive on the connection's event loop, the client's own.
            let call = connection.bidirectionalStreaming(
                EtcdPaths.leaseKeepAlive, Etcdserverpb_LeaseKeepAliveRequest.self, Etcdserverpb_LeaseKeepAliveResponse.self
            ) { response in client.answered(response) }
            call.status.whenComplete { result in
                client.ended((try? result.get()).map { "\($0)" } ?? "\(result)")
            }
            client.call = call
            return client
        }
    }

    func send(_ client: NetworkKeepAliveClient, on connection: GRPCClient, number: Int,
              completion: @escaping NetworkCompletion) {
        guard let call = client.call else { preconditionFailure("a keepalive client is made with its stream") }
        client.waiting.append(completion)
        var request = Etcdserverpb_LeaseKeepAliveRequest()
        request.id = client.leaseID
        call.send(request).whenFailure { error in client.ended("\(error)") }
    }

    func finish(_ client: NetworkKeepAliveClient, on connection: GRPCClient) -> EventLoopFuture<Void> {
        client.call?.cancel()
        var revoke = Etcdserverpb_LeaseRevokeRequest()
        revoke.id = client.leaseID
        let revoked: EventLoopFuture<Etcdserverpb_LeaseRevokeResponse> = connection.unary(EtcdPaths.leaseRevoke, revoke)
        return revoked.map { _ in }
    }
}

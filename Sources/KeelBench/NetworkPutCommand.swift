import ArgumentParser
import Foundation
import KeelAPI
import NIOCore

/// `keel-bench put`: etcd-API puts over the network against any endpoint (Keel or etcd), as
/// etcd's own `benchmark put`.
struct NetworkPutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Put keys over the etcd v3 API (gRPC) against an endpoint, measuring throughput and latency.",
        discussion: """
        Opens --conns HTTP/2 connections to the endpoints (round robin) and runs --clients \
        clients over them; each client puts, waits for the answer, and puts again, until \
        --total puts are done (or --duration passed). Keys are --key-size bytes, chosen at \
        random (or in order with --sequential-keys) among --key-space-size keys; values are \
        --val-size bytes. Every put moves the store's revision by one.
        """
    )

    @OptionGroup var options: NetworkOptions

    func run() throws {
        let connections = try NetworkConnections(options)
        defer { connections.close() }
        let workload = NetworkPutWorkload(keySpace: options.keySpace, valueBytes: options.valSize)
        let run = NetworkRun(workload: workload, connections: connections.clients, clients: options.clients,
                             stop: options.stop, rate: options.rate)
        let measurement = try run.run(label: "put", progress: ProgressLine())
        var result = NetworkResult(workload: "put", options: options, measurement: measurement)
        // The key the first version of `put --json` reported its rate under.
        result.extraJSON = [("putsPerSecond", .number(result.requestsPerSecond, decimals: 0))]
        try result.emit(options)
    }
}

/// One Put per request, of the request's key in the key space.
struct NetworkPutWorkload: NetworkWorkload {
    typealias Client = Void
    let keySpace: NetworkKeySpace
    let value: Data

    init(keySpace: NetworkKeySpace, valueBytes: Int) {
        self.keySpace = keySpace
        value = Data(repeating: UInt8(ascii: "v"), count: valueBytes)
    }

    func send(_ client: Void, on connection: GRPCClient, number: Int, completion: @escaping NetworkCompletion) {
        var request = Etcdserverpb_PutRequest()
        request.key = keySpace.key(request: number)
        request.value = value
        connection.unaryBytes(EtcdPaths.put, request) { result in completion(result.map { _ in nil }.mapError { $0 }) }
    }
}

/// The etcd v3 gRPC method paths keel-bench calls.
enum EtcdPaths {
    static let put = "/etcdserverpb.KV/Put"
    static let range = "/etcdserverpb.KV/Range"
    static let txn = "/etcdserverpb.KV/Txn"
    static let watch = "/etcdserverpb.Watch/Watch"
    static let leaseGrant = "/etcdserverpb.Lease/LeaseGrant"
    static let leaseRevoke = "/etcdserverpb.Lease/LeaseRevoke"
    static let leaseKeepAlive = "/etcdserverpb.Lease/LeaseKeepAlive"
}

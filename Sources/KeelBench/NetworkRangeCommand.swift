import ArgumentParser
import Foundation
import KeelAPI
import NIOCore

/// `keel-bench range`: single-key Range requests over the key space, linearizable or
/// serializable, as etcd's `benchmark range`.
struct NetworkRangeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "range",
        abstract: "Read keys over the etcd v3 API (Range), measuring throughput and latency.",
        discussion: """
        Each request reads one key of the key space (--key-space-size keys of --key-size \
        bytes, at random or with --sequential-keys in order). --prefill first puts every \
        key once (--val-size bytes) so reads find data; without it a read of a missing key \
        still costs a full Range. Reads never move the store's revision.
        """
    )

    @OptionGroup var options: NetworkOptions
    @Option(help: "l: linearizable, s: serializable.")
    var consistency = NetworkConsistency.l
    @Flag(help: "Put every key of the key space once before the clock starts.")
    var prefill = false

    func run() throws {
        let connections = try NetworkConnections(options)
        defer { connections.close() }
        if prefill { try NetworkPrefill.run(options, connections: connections.clients) }
        let workload = NetworkRangeWorkload(keySpace: options.keySpace, serializable: consistency.serializable)
        let run = NetworkRun(workload: workload, connections: connections.clients, clients: options.clients,
                             stop: options.stop, rate: options.rate)
        var result = NetworkResult(workload: "range", options: options,
                                   measurement: try run.run(label: "range", progress: ProgressLine()))
        result.parameters += [("consistency", consistency.name), ("prefill", prefill ? "yes" : "no")]
        try result.emit(options)
    }
}

/// One single-key Range per request.
struct NetworkRangeWorkload: NetworkWorkload {
    typealias Client = Void
    let keySpace: NetworkKeySpace
    let serializable: Bool

    func send(_ client: Void, on connection: GRPCClient, number: Int, completion: @escaping NetworkCompletion) {
        var request = Etcdserverpb_RangeRequest()
        request.key = keySpace.key(request: number)
        request.serializable = serializable
        connection.unaryBytes(EtcdPaths.range, request) { result in completion(result.map { _ in nil }.mapError { $0 }) }
    }
}

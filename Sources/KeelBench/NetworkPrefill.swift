import KeelAPI

/// Puts every key of the key space once (in order, with the run's clients and value size)
/// before a read workload's clock starts, so reads hit data.
enum NetworkPrefill {
    static func run(_ options: NetworkOptions, connections: [GRPCClient]) throws {
        let keySpace = NetworkKeySpace(size: options.keySpaceSize, keyBytes: options.keySize, sequential: true, seed: 0)
        let workload = NetworkPutWorkload(keySpace: keySpace, valueBytes: options.valSize)
        let run = NetworkRun(workload: workload, connections: connections, clients: options.clients,
                             stop: .total(options.keySpaceSize), rate: 0)
        let measurement = try run.run(label: "prefill", progress: ProgressLine())
        if let error = measurement.firstError {
            throw BenchFailure("prefill: \(measurement.failures) of \(options.keySpaceSize) puts failed; the first: \(error)")
        }
    }
}

import ArgumentParser
import KeelAPI

/// `keel-bench txn-mixed`: a mix of read and write transactions, as etcd's
/// `benchmark txn-mixed`.
struct NetworkTxnMixedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "txn-mixed",
        abstract: "Mixed read and write transactions (Txn of Range or of Put) over the etcd v3 API.",
        discussion: """
        Each request is one Txn of --txn-ops operations on consecutive keys of the key space: \
        all Range (a read) or all Put (a write). A request reads with probability R / (R + 1) \
        for --rw-ratio R, drawn from the request number and --seed. Reads and writes are \
        also reported apart. --prefill first puts every key once so reads find data.
        """
    )

    @OptionGroup var options: NetworkOptions
    @Option(help: "Reads per write (R reads for every write on average).")
    var rwRatio = 1.0
    @Option(help: "Operations per transaction (1...128).")
    var txnOps = 1
    @Option(help: "Consistency of the reads: l linearizable, s serializable.")
    var consistency = NetworkConsistency.l
    @Flag(help: "Put every key of the key space once before the clock starts.")
    var prefill = false

    func validate() throws {
        guard rwRatio >= 0 && !rwRatio.isNaN else { throw ValidationError("--rw-ratio must be 0 or more") }
        try NetworkTxnWorkload.validate(txnOps: txnOps, keySpaceSize: options.keySpaceSize)
    }

    func run() throws {
        let connections = try NetworkConnections(options)
        defer { connections.close() }
        if prefill { try NetworkPrefill.run(options, connections: connections.clients) }
        let workload = NetworkTxnWorkload(keySpace: options.keySpace, opsPerTxn: txnOps, valueBytes: options.valSize,
                                          readRatio: rwRatio, serializable: consistency.serializable,
                                          reportsKinds: true)
        let run = NetworkRun(workload: workload, connections: connections.clients, clients: options.clients,
                             stop: options.stop, rate: options.rate)
        let measurement = try run.run(label: "txn-mixed", progress: ProgressLine())
        var result = NetworkResult(workload: "txn-mixed", options: options, measurement: measurement)
        result.parameters += [("rw ratio", Format.fixed(rwRatio, decimals: 2)), ("txn ops", String(txnOps)),
                              ("consistency", consistency.name), ("prefill", prefill ? "yes" : "no")]
        result.rows = NetworkOperationKind.allCases.map { kind in
            (kind == .read ? "reads" : "writes", measurement.kinds[kind.rawValue])
        }
        try result.emit(options)
    }
}

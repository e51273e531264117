import ArgumentParser
import Foundation
import KeelAPI
import NIOCore

/// `keel-bench txn-put`: transactions of --txn-ops puts each, as etcd's `benchmark txn-put`.
struct NetworkTxnPutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "txn-put",
        abstract: "Put keys in transactions (Txn with --txn-ops puts) over the etcd v3 API.",
        discussion: """
        Request n is one Txn without comparisons whose success branch puts --txn-ops \
        distinct keys: the request's key slot and the slots after it (wrapping around the \
        key space, which must hold at least --txn-ops keys). Every txn moves the store's \
        revision by one.
        """
    )

    @OptionGroup var options: NetworkOptions
    @Option(help: "Puts per transaction (1...128, etcd's default --max-txn-ops).")
    var txnOps = 1

    func validate() throws {
        try NetworkTxnWorkload.validate(txnOps: txnOps, keySpaceSize: options.keySpaceSize)
    }

    func run() throws {
        let connections = try NetworkConnections(options)
        defer { connections.close() }
        let workload = NetworkTxnWorkload(keySpace: options.keySpace, opsPerTxn: txnOps, valueBytes: options.valSize,
                                          readRatio: 0, serializable: false, reportsKinds: false)
        let run = NetworkRun(workload: workload, connections: connections.clients, clients: options.clients,
                             stop: options.stop, rate: options.rate)
        var result = NetworkResult(workload: "txn-put", options: options,
                                   measurement: try run.run(label: "txn-put", progress: ProgressLine()))
        result.parameters.append(("txn ops", String(txnOps)))
        try result.emit(options)
    }
}

/// One Txn per request, of `opsPerTxn` Range or Put operations on consecutive key slots
/// from the request's slot. A request is a read with probability readRatio / (readRatio + 1),
/// drawn from the request number and the seed (so a run replays exactly); txn-put is the
/// ratio 0.
struct NetworkTxnWorkload: NetworkWorkload {
    typealias Client = Void
    let keySpace: NetworkKeySpace
    let opsPerTxn: Int
    let value: Data
    let readProbability: Double
    let serializable: Bool
    /// Whether answers count as reads and writes apart (txn-mixed) or only in the total.
    let reportsKinds: Bool

    /// The flag checks of `--txn-ops` both txn workloads make.
    static func validate(txnOps: Int, keySpaceSize: Int) throws {
        guard txnOps >= 1 && txnOps <= 128 else { throw ValidationError("--txn-ops must be in 1...128") }
        guard txnOps <= keySpaceSize else {
            throw ValidationError("--key-space-size must hold at least --txn-ops keys: a txn may not put one key twice")
        }
    }

    init(keySpace: NetworkKeySpace, opsPerTxn: Int, valueBytes: Int, readRatio: Double, serializable: Bool,
         reportsKinds: Bool) {
        precondition(opsPerTxn >= 1 && opsPerTxn <= keySpace.size && readRatio >= 0)
        self.keySpace = keySpace
        self.opsPerTxn = opsPerTxn
        value = Data(repeating: UInt8(ascii: "v"), count: valueBytes)
        readProbability = readRatio.isInfinite ? 1 : readRatio / (readRatio + 1)
        self.serializable = serializable
        self.reportsKinds = reportsKinds
    }

    /// Whether request `number` reads: a uniform draw in [0, 1) below the read probability.
    func isRead(request number: Int) -> Bool {
        guard readProbability > 0 else { return false }
        // A different stream from the key draw, which mixes the same number and seed.
        let draw = NetworkKeySpace.mix(UInt64(number), seed: keySpace.seed ^ 0x5EED_0F_2EAD) >> 11
        return Double(draw) / Double(1 << 53) < readProbability
    }

    func send(_ client: Void, on connection: GRPCClient, number: Int, completion: @escaping NetworkCompletion) {
        let read = isRead(request: number)
        let base = keySpace.slot(request: number)
        var request = Etcdserverpb_TxnRequest()
        request.success = (0..<opsPerTxn).map { index in
            let key = keySpace.key(slot: (base + index) % keySpace.size)
            var operation = Etcdserverpb_RequestOp()
            if read {
                var range = Etcdserverpb_RangeRequest()
                range.key = key
                range.serializable = serializable
                operation.requestRange = range
            } else {
                var put = Etcdserverpb_PutRequest()
                put.key = key
                put.value = value
                operation.requestPut = put
            }
            return operation
        }
        let kind: NetworkOperationKind? = reportsKinds ? (read ? .read : .write) : nil
        connection.unary(EtcdPaths.txn, request, as: Etcdserverpb_TxnResponse.self) { result in
            switch result {
            case .success(let response) where response.succeeded: completion(.success(kind))
            case .success: completion(.failure(BenchFailure("a txn without comparisons did not succeed")))
            case .failure(let status): completion(.failure(status))
            }
        }
    }
}

import ArgumentParser
import Foundation
import KeelAPI
import NIOCore
import NIOPosix
import Synchronization

/// `keel-bench put`: etcd-API puts over the network against any endpoint (Keel or etcd), as
/// etcd's own `benchmark put`: --clients calls in flight spread over --conns connections,
/// each client sending its next put when the last one answers.
struct NetworkPutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Put keys over the etcd v3 API (gRPC) against an endpoint, measuring throughput and latency.",
        discussion: """
        Opens --conns HTTP/2 connections to the endpoints (round robin) and runs --clients \
        clients over them; each client puts, waits for the answer, and puts again, until \
        --total puts are done. Keys are --key-size bytes, chosen at random (or in order with \
        --sequential-keys) among --key-space-size keys; values are --val-size bytes. Works \
        against Keel and etcd alike.
        """
    )

    @Option(help: "Comma-separated host:port endpoints.")
    var endpoints = "127.0.0.1:2379"
    @Option(help: "HTTP/2 connections.")
    var conns = 1
    @Option(help: "Concurrent clients (calls in flight).")
    var clients = 1
    @Option(help: "Puts in total.")
    var total = 10_000
    @Option(help: "Key size in bytes.")
    var keySize = 8
    @Option(help: "Value size in bytes.")
    var valSize = 8
    @Option(help: "Distinct keys written.")
    var keySpaceSize = 1
    @Flag(help: "Write keys in order instead of at random.")
    var sequentialKeys = false
    @Option(help: "Seed of the random keys.")
    var seed: UInt64 = 1
    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func validate() throws {
        guard conns >= 1 && conns <= 1024 else { throw ValidationError("--conns must be in 1...1024") }
        guard clients >= conns && clients <= 100_000 else { throw ValidationError("--clients must be in --conns...100000") }
        guard total >= 1 else { throw ValidationError("--total must be at least 1") }
        guard keySize >= 1 && keySize <= 1 << 20, valSize >= 0 && valSize <= 1 << 21 else {
            throw ValidationError("--key-size must be in 1...1048576 and --val-size in 0...2097152")
        }
        guard keySpaceSize >= 1 else { throw ValidationError("--key-space-size must be at least 1") }
        guard !targets.isEmpty else { throw ValidationError("--endpoints names no host:port") }
    }

    var targets: [(host: String, port: Int)] {
        endpoints.split(separator: ",").compactMap { endpoint in
            let text = endpoint.hasPrefix("http://") ? endpoint.dropFirst(7) : endpoint[...]
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
            return (String(text[..<colon]), port)
        }
    }

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: min(conns, System.coreCount))
        defer { try? group.syncShutdownGracefully() }
        let connections = try (0..<conns).map { index in
            let target = targets[index % targets.count]
            return try GRPCClient.connect(host: target.host, port: target.port, group: group).wait()
        }
        let run = NetworkPutRun(command: self, connections: connections)
        let started = BenchSystem.monotonicNanoseconds()
        let recorders = try run.start().wait()
        let elapsed = Double(BenchSystem.monotonicNanoseconds() - started) / 1e9
        for connection in connections { try? connection.close().wait() }
        var latency = LatencyRecorder()
        for recorder in recorders { latency.merge(recorder.latency) }
        let failures = recorders.reduce(0) { $0 + $1.failures }
        report(latency: latency, failures: failures, seconds: elapsed, firstError: recorders.compactMap(\.firstError).first)
    }

    private func report(latency: LatencyRecorder, failures: Int, seconds: Double, firstError: String?) {
        let summary = latency.summary
        let rate = Double(summary.count) / seconds
        if json {
            print(JSONValue.object([
                ("workload", .string("put")), ("endpoints", .string(endpoints)), ("conns", .integer(Int64(conns))),
                ("clients", .integer(Int64(clients))), ("total", .integer(Int64(total))), ("keySize", .integer(Int64(keySize))),
                ("valSize", .integer(Int64(valSize))), ("seconds", .number(seconds, decimals: 3)),
                ("putsPerSecond", .number(rate, decimals: 0)), ("failures", .integer(Int64(failures))),
                ("p50Microseconds", .unsigned(summary.p50Microseconds)), ("p99Microseconds", .unsigned(summary.p99Microseconds)),
                ("p999Microseconds", .unsigned(summary.p999Microseconds)), ("maxMicroseconds", .unsigned(summary.maxMicroseconds)),
            ]).rendered)
            return
        }
        var table = TextTable([
            .init(title: "workload", alignment: .left), .init(title: "clients", alignment: .right),
            .init(title: "puts/s", alignment: .right), .init(title: "p50 µs", alignment: .right),
            .init(title: "p99 µs", alignment: .right), .init(title: "p99.9 µs", alignment: .right),
            .init(title: "max µs", alignment: .right), .init(title: "failed", alignment: .right),
        ])
        table.append(["put \(valSize) B", String(clients), Format.grouped(UInt64(rate)), String(summary.p50Microseconds),
                      String(summary.p99Microseconds), String(summary.p999Microseconds), String(summary.maxMicroseconds),
                      String(failures)])
        print("keel-bench put: \(endpoints), \(conns) connection(s), \(Format.grouped(UInt64(total))) puts in \(Format.fixed(seconds, decimals: 2)) s")
        print(table.rendered)
        if let firstError { print("first failure: \(firstError)") }
    }
}

/// One put run: the clients of each connection run on that connection's event loop, so each
/// connection's recorder is touched by one thread only.
final class NetworkPutRun: Sendable {
    /// What one connection's clients measured.
    final class Recorder: @unchecked Sendable {
        // Unchecked: touched only on its connection's event loop until the run completes.
        var latency = LatencyRecorder()
        var failures = 0
        var firstError: String?
    }

    let connections: [GRPCClient]
    let clients: Int
    let total: Int
    let keySize: Int
    let keySpaceSize: Int
    let sequential: Bool
    let seed: UInt64
    let value: Data
    private let issued = Atomic<Int>(0)

    init(command: NetworkPutCommand, connections: [GRPCClient]) {
        self.connections = connections
        clients = command.clients
        total = command.total
        keySize = command.keySize
        keySpaceSize = command.keySpaceSize
        sequential = command.sequentialKeys
        seed = command.seed
        value = Data(repeating: UInt8(ascii: "v"), count: command.valSize)
    }

    /// Starts every client; completes with each connection's recorder once all puts answered.
    func start() -> EventLoopFuture<[Recorder]> {
        let finished = connections.enumerated().map { index, connection -> EventLoopFuture<Recorder> in
            let loop = connection.channel.eventLoop
            let recorder = Recorder()
            let share = clients / connections.count + (index < clients % connections.count ? 1 : 0)
            let done = (0..<share).map { client -> EventLoopFuture<Void> in
                let promise = loop.makePromise(of: Void.self)
                loop.execute { self.next(connection, recorder, client: UInt64(index * 100_003 + client), promise) }
                return promise.futureResult
            }
            return EventLoopFuture.andAllSucceed(done, on: loop).map { recorder }
        }
        return EventLoopFuture.whenAllSucceed(finished, on: connections[0].channel.eventLoop)
    }

    private func next(_ connection: GRPCClient, _ recorder: Recorder, client: UInt64, _ done: EventLoopPromise<Void>) {
        let number = issued.add(1, ordering: .relaxed).oldValue
        guard number < total else { return done.succeed() }
        var request = Etcdserverpb_PutRequest()
        request.key = key(number)
        request.value = value
        let started = BenchSystem.monotonicNanoseconds()
        let call: EventLoopFuture<Etcdserverpb_PutResponse> = connection.unary("/etcdserverpb.KV/Put", request)
        call.whenComplete { result in
            switch result {
            case .success: recorder.latency.record(nanoseconds: BenchSystem.monotonicNanoseconds() - started)
            case .failure(let error):
                recorder.failures += 1
                if recorder.firstError == nil { recorder.firstError = "\(error)" }
            }
            self.next(connection, recorder, client: client, done)
        }
    }

    /// The key of put `number`: its slot in the key space, in order or scattered by a mix of
    /// the seed, written as decimal digits padded to the key size.
    private func key(_ number: Int) -> Data {
        var slot = UInt64(number % keySpaceSize)
        if !sequential && keySpaceSize > 1 {
            var mixed = (UInt64(number) &+ seed) &* 0x9E37_79B9_7F4A_7C15
            mixed ^= mixed >> 31
            slot = mixed % UInt64(keySpaceSize)
        }
        var digits = Array(String(slot).utf8)
        if digits.count < keySize { digits = [UInt8](repeating: UInt8(ascii: "0"), count: keySize - digits.count) + digits }
        return Data(digits.suffix(keySize))
    }
}

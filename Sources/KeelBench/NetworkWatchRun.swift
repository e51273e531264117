import Foundation
import KeelAPI
import NIOCore
import Synchronization

/// One watch run: creates the watchers, runs the puts through `NetworkRun`, and waits for
/// their events. Each stream's events are recorded by its connection's event loop.
final class NetworkWatchRun: Sendable {
    /// The little-endian monotonic send time at the front of every value.
    static let stampBytes = 8
    /// How long to wait for missing events after the last put answered, and for watchers to
    /// be created.
    static let waitNanosecondsMax: UInt64 = 10_000_000_000

    let options: NetworkOptions
    let connections: [GRPCClient]
    let watchers: Int
    let stop: NetworkStop
    let streams: [NetworkWatchStream]
    let keySpace: NetworkKeySpace
    /// Events the successful puts make, and events delivered so far.
    let expected = Atomic<Int>(0)
    let delivered = Atomic<Int>(0)
    /// When the puts' clock started; events are bucketed into seconds from it.
    let startNanoseconds = Atomic<UInt64>(0)

    init(options: NetworkOptions, connections: [GRPCClient], watchers: Int, streams: Int, stop: NetworkStop) {
        self.options = options
        self.connections = connections
        self.watchers = watchers
        self.stop = stop
        keySpace = options.keySpace
        self.streams = (0..<streams).map { index in
            NetworkWatchStream(watchers: watchers / streams + (index < watchers % streams ? 1 : 0))
        }
    }

    /// Watchers of key slot `slot`: those w < watchers with w mod keySpace.size == slot.
    func watchers(ofSlot slot: Int) -> Int {
        watchers / keySpace.size + (slot < watchers % keySpace.size ? 1 : 0)
    }

    func run() throws -> NetworkResult {
        try createWatchers()
        let workload = NetworkWatchPutWorkload(run: self, valueBytes: options.valSize)
        let putRun = NetworkRun(workload: workload, connections: connections, clients: options.clients,
                                stop: stop, rate: options.rate)
        startNanoseconds.store(BenchSystem.monotonicNanoseconds(), ordering: .relaxed)
        let putMeasurement = try putRun.run(label: "watch puts", progress: ProgressLine())
        awaitEvents()
        for (index, stream) in streams.enumerated() {
            try? connections[index % connections.count].channel.eventLoop.submit { stream.cancel() }.wait()
        }
        return result(puts: putMeasurement)
    }

    /// Opens the streams and sends every create request; returns when all are created.
    private func createWatchers() throws {
        for (index, stream) in streams.enumerated() {
            let connection = connections[index % connections.count]
            try connection.channel.eventLoop.submit { stream.open(on: connection, run: self) }.wait()
        }
        for watcher in 0..<watchers {
            var create = Etcdserverpb_WatchCreateRequest()
            create.key = keySpace.key(slot: watcher % keySpace.size)
            var request = Etcdserverpb_WatchRequest()
            request.createRequest = create
            streams[watcher % streams.count].call?.send(request).whenFailure { _ in }
        }
        let deadline = BenchSystem.monotonicNanoseconds() + Self.waitNanosecondsMax
        for stream in streams {
            let loop = stream.created.futureResult.eventLoop
            loop.scheduleTask(deadline: .uptimeNanoseconds(deadline)) {
                stream.created.fail(BenchFailure("watchers not all created within 10 s"))
            }
            do { try stream.created.futureResult.wait() } catch {
                throw BenchFailure("cannot create the watchers: \(error)")
            }
        }
    }

    /// Waits until every expected event arrived, or no new one came for 10 s.
    private func awaitEvents() {
        var last = (count: delivered.load(ordering: .relaxed), nanoseconds: BenchSystem.monotonicNanoseconds())
        while delivered.load(ordering: .relaxed) < expected.load(ordering: .relaxed) {
            BenchSystem.sleep(nanoseconds: 10_000_000)
            let now = BenchSystem.monotonicNanoseconds(), count = delivered.load(ordering: .relaxed)
            if count != last.count { last = (count, now) } else if now - last.nanoseconds > Self.waitNanosecondsMax { break }
        }
    }

    private func result(puts: NetworkMeasurement) -> NetworkResult {
        let recorders = streams.map(\.recorder)
        let start = startNanoseconds.load(ordering: .relaxed)
        // Streams are idle now (events complete or given up): reading their recorders from
        // this thread goes through each stream's loop to see its last writes.
        let lastEvent = streams.indices.map { index in
            (try? connections[index % connections.count].channel.eventLoop.submit { self.streams[index].lastEventNanoseconds }
                .wait()) ?? 0
        }.max() ?? start
        var measurement = NetworkMeasurement(recorders: recorders, seconds: Double(max(lastEvent, start) - start) / 1e9)
        let expectedEvents = expected.load(ordering: .relaxed), events = Int(measurement.latency.count)
        let missing = max(expectedEvents - events, 0)
        measurement.failures += puts.failures + missing
        if measurement.firstError == nil { measurement.firstError = puts.firstError }
        if measurement.firstError == nil && missing > 0 { measurement.firstError = "\(missing) events never arrived" }
        var result = NetworkResult(workload: "watch", options: options, measurement: measurement)
        result.unit = "events"
        result.rows = [("puts", puts.latency)]
        result.extraJSON = [
            ("watchers", .integer(Int64(watchers))), ("streams", .integer(Int64(streams.count))),
            ("puts", .unsigned(puts.latency.count)), ("putFailures", .integer(Int64(puts.failures))),
            ("expectedEvents", .integer(Int64(expectedEvents))), ("missingEvents", .integer(Int64(missing))),
        ]
        return result
    }
}

/// Puts whose values start with their send time; each answered put adds its slot's watchers
/// to the events expected.
struct NetworkWatchPutWorkload: NetworkWorkload {
    typealias Client = Void
    let run: NetworkWatchRun
    let valueBytes: Int

    func send(_ client: Void, on connection: GRPCClient, number: Int, completion: @escaping NetworkCompletion) {
        let slot = run.keySpace.slot(request: number)
        var request = Etcdserverpb_PutRequest()
        request.key = run.keySpace.key(slot: slot)
        var stamp = BenchSystem.monotonicNanoseconds().littleEndian
        var value = withUnsafeBytes(of: &stamp) { Data($0) }
        value.append(Data(repeating: UInt8(ascii: "v"), count: valueBytes - NetworkWatchRun.stampBytes))
        request.value = value
        connection.unaryBytes(EtcdPaths.put, request) { result in
            if case .success = result { self.run.expected.add(self.run.watchers(ofSlot: slot), ordering: .relaxed) }
            completion(result.map { _ in nil }.mapError { $0 })
        }
    }
}

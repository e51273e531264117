import KeelAPI
import NIOCore
import Synchronization

/// When a network run stops issuing requests.
enum NetworkStop: Sendable {
    /// After this many requests over all clients.
    case total(Int)
    /// Once this long has passed since the clock started; requests in flight then still count.
    case after(nanoseconds: UInt64)
}

/// Drives one workload: --clients clients spread over the connections, each sending its next
/// request when the last one answered (paced by the rate limiter when there is one), until
/// the stop condition. The clients of a connection run on that connection's event loop, so
/// each connection's recorder is touched by one thread only.
final class NetworkRun<Workload: NetworkWorkload>: Sendable {
    let workload: Workload
    let connections: [GRPCClient]
    let clients: Int
    let stop: NetworkStop
    let limiter: RateLimiter?
    private let issued = Atomic<Int>(0)
    /// Requests answered or failed, for the progress line.
    private let completed = Atomic<Int>(0)
    private let startNanoseconds = Atomic<UInt64>(0)

    init(workload: Workload, connections: [GRPCClient], clients: Int, stop: NetworkStop, rate: Int) {
        precondition(!connections.isEmpty && clients >= connections.count)
        self.workload = workload
        self.connections = connections
        self.clients = clients
        self.stop = stop
        limiter = rate > 0 ? RateLimiter(requestsPerSecond: rate) : nil
    }

    /// Prepares every client, starts the clock, runs until the stop condition and every
    /// answer is in, then ends the clients. `label` names the run on the progress line.
    func run(label: String, progress: ProgressLine?) throws -> NetworkMeasurement {
        let prepared = try prepareClients()
        let start = BenchSystem.monotonicNanoseconds()
        startNanoseconds.store(start, ordering: .relaxed)
        let finished = connections.indices.map { index -> EventLoopFuture<NetworkRecorder> in
            let connection = connections[index]
            let loop = connection.channel.eventLoop
            let recorder = NetworkRecorder()
            let done = prepared[index].map { client -> EventLoopFuture<Void> in
                let promise = loop.makePromise(of: Void.self)
                loop.execute { self.next(client, connection, recorder, promise) }
                return promise.futureResult
            }
            return EventLoopFuture.andAllSucceed(done, on: loop).map { recorder }
        }
        let all = EventLoopFuture.whenAllSucceed(finished, on: connections[0].channel.eventLoop)
        // The clock stops when the last answer is in, not when this thread notices: the
        // progress line polls every 50 ms, which stretched every run by up to that much.
        let ended = Atomic<UInt64>(0)
        all.whenComplete { _ in ended.store(BenchSystem.monotonicNanoseconds(), ordering: .releasing) }
        if let progress { watch(all, label: label, start: start, progress) }
        let recorders = try all.wait()
        let seconds = Double(ended.load(ordering: .acquiring) - start) / 1e9
        for (index, connection) in connections.enumerated() {
            for client in prepared[index] { try? workload.finish(client, on: connection).wait() }
        }
        return NetworkMeasurement(recorders: recorders, seconds: seconds)
    }

    /// The clients of each connection, made on its event loop before the clock starts.
    private func prepareClients() throws -> [[Workload.Client]] {
        var prepared: [[Workload.Client]] = []
        for (index, connection) in connections.enumerated() {
            let share = clients / connections.count + (index < clients % connections.count ? 1 : 0)
            let made = (0..<share).map { client in
                connection.channel.eventLoop.flatSubmit {
                    self.workload.makeClient(connection, index: index + client * self.connections.count)
                }
            }
            do {
                prepared.append(try EventLoopFuture.whenAllSucceed(made, on: connection.channel.eventLoop).wait())
            } catch {
                throw BenchFailure("cannot prepare the clients: \(error)")
            }
        }
        return prepared
    }

    private func next(_ client: Workload.Client, _ connection: GRPCClient, _ recorder: NetworkRecorder,
                      _ done: EventLoopPromise<Void>) {
        let number = issued.add(1, ordering: .relaxed).oldValue
        let start = startNanoseconds.load(ordering: .relaxed)
        let offset = BenchSystem.monotonicNanoseconds() - start
        if isOver(number: number, offsetNanoseconds: offset) { return done.succeed() }
        let delay = limiter?.delayNanoseconds(request: number, nowOffsetNanoseconds: offset) ?? 0
        guard delay > 0 else { return send(number, client, connection, recorder, done) }
        connection.channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(delay))) {
            // A paced request due after the deadline is not sent.
            if self.isOver(number: number, offsetNanoseconds: BenchSystem.monotonicNanoseconds() - start) {
                return done.succeed()
            }
            self.send(number, client, connection, recorder, done)
        }
    }

    private func isOver(number: Int, offsetNanoseconds: UInt64) -> Bool {
        switch stop {
        case .total(let total): number >= total
        case .after(let nanoseconds): offsetNanoseconds >= nanoseconds
        }
    }

    private func send(_ number: Int, _ client: Workload.Client, _ connection: GRPCClient, _ recorder: NetworkRecorder,
                      _ done: EventLoopPromise<Void>) {
        let started = BenchSystem.monotonicNanoseconds()
        workload.send(client, on: connection, number: number) { result in
            let now = BenchSystem.monotonicNanoseconds()
            self.completed.add(1, ordering: .relaxed)
            switch result {
            case .success(let kind):
                recorder.recordSuccess(kind: kind, latencyNanoseconds: now - started,
                                       offsetNanoseconds: now - self.startNanoseconds.load(ordering: .relaxed))
                self.next(client, connection, recorder, done)
            case .failure(let error):
                recorder.recordFailure(error)
                // A failure can complete at once (a closed connection): go round the event
                // loop instead of recursing, so the stack stays flat.
                connection.channel.eventLoop.execute { self.next(client, connection, recorder, done) }
            }
        }
    }

    /// Refreshes the progress line until `all` completes.
    private func watch(_ all: EventLoopFuture<[NetworkRecorder]>, label: String, start: UInt64, _ progress: ProgressLine) {
        let finished = Atomic<Bool>(false)
        all.whenComplete { _ in finished.store(true, ordering: .releasing) }
        var last = (nanoseconds: start, completed: 0)
        while !finished.load(ordering: .acquiring) {
            BenchSystem.sleep(nanoseconds: 50_000_000)
            let now = BenchSystem.monotonicNanoseconds()
            guard now - last.nanoseconds >= ProgressLine.refreshNanoseconds else { continue }
            let count = completed.load(ordering: .relaxed)
            let rate = Double(count - last.completed) * 1e9 / Double(now - last.nanoseconds)
            progress.update(ProgressLine.running(label: label, stop: stop, completed: count,
                                                 elapsedNanoseconds: now - start, ratePerSecond: rate))
            last = (now, count)
        }
        progress.clear()
    }
}

/// What a run measured, merged over its connections.
struct NetworkMeasurement: Sendable {
    var latency = LatencyRecorder()
    var kinds = NetworkOperationKind.allCases.map { _ in LatencyRecorder() }
    var series = NetworkSeries()
    var failures = 0
    var firstError: String?
    var seconds: Double

    init(recorders: [NetworkRecorder], seconds: Double) {
        self.seconds = seconds
        for recorder in recorders {
            latency.merge(recorder.latency)
            for kind in NetworkOperationKind.allCases { kinds[kind.rawValue].merge(recorder.kinds[kind.rawValue]) }
            series.merge(recorder.series)
            failures += recorder.failures
            if firstError == nil { firstError = recorder.firstError }
        }
    }
}

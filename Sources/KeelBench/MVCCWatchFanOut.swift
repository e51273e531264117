import KeelIO
import KeelMVCC

/// The watch workload of `keel-bench mvcc`: many watchers of one key over a few streams, one
/// consumer thread draining them, while this thread puts the key and notifies the hub after
/// every put, as the apply loop does.
struct MVCCWatchFanOut {
    /// Responses one `take` asks for.
    static let takeMax = 256
    /// Bounds of one catch-up round for watchers moved aside.
    static let syncEventsMax = 1000
    static let syncWatchersMax = 512
    static let watchedKey = Array("keel-bench/watched".utf8)

    let store: KVStore
    let watchers: Int
    let streams: Int
    let puts: Int
    let space: StorageKeySpace
    let progress: ProgressLine

    func run() throws(BenchFailure) -> MVCCWatchPhase {
        let hub = WatchHub(history: store)
        let consumer = MVCCWatchConsumer(watchers: watchers, streams: streams, puts: puts, firstRevision: store.currentRevision + 1,
                                         space: space)
        let handles = (0..<streams).map { _ in hub.openStream { [consumer] in consumer.wake() } }
        for watcher in 0..<watchers {
            let stream = watcher % streams
            guard case .success(let id) = handles[stream].create(WatchCreateRequest(key: Self.watchedKey)) else {
                throw BenchFailure("mvcc watch: creating watcher \(watcher) was refused")
            }
            guard id.rawValue == Int64(watcher / streams) else { throw BenchFailure("mvcc watch: watcher \(watcher) got id \(id)") }
        }
        for stream in handles {
            while !stream.take(max: Self.takeMax).isEmpty {}
        }
        let thread = JoinHandle(OSThread(name: "keel-bench-mvcc-watch") { consumer.consume(hub: hub, streams: handles) })
        let start = BenchSystem.monotonicNanoseconds()
        consumer.start(at: start)
        let writeSeconds = try writeAndNotify(hub, consumer: consumer, start: start)
        thread.join()
        handles.forEach { $0.close() }
        if let failure = consumer.failure { throw failure }
        return MVCCWatchPhase(watchers: watchers, streams: streams, puts: puts, events: consumer.delivered,
                              responses: consumer.responses, syncRounds: consumer.syncRounds, writeSeconds: writeSeconds,
                              seconds: Double(consumer.lastEventNanoseconds - start) / 1e9)
    }

    /// Puts the watched key `puts` times, each applying the next raft index and notified to the
    /// hub with its events. Returns the seconds it took.
    private func writeAndNotify(_ hub: WatchHub, consumer: MVCCWatchConsumer, start: UInt64) throws(BenchFailure) -> Double {
        var value = space.makeValueBuffer()
        var lastUpdate = start
        for put in 0..<puts {
            space.writeValue(0, version: UInt64(put), into: &value)
            let index = ConsistentIndex(index: store.consistentIndex.index + 1, term: MVCCBenchmark.term)
            let applied: Applied<PutResponse>
            do {
                applied = try store.put(PutRequest(key: Self.watchedKey, value: value), applying: index)
            } catch {
                consumer.stop()
                throw BenchFailure("mvcc watch: put \(put): \(error)")
            }
            guard case .success(let response) = applied.response else {
                consumer.stop()
                throw BenchFailure("mvcc watch: put \(put) refused")
            }
            hub.notify(revision: response.revision, events: applied.events)
            let now = BenchSystem.monotonicNanoseconds()
            if now - lastUpdate >= ProgressLine.refreshNanoseconds {
                lastUpdate = now
                progress.update("mvcc watch: \(Format.grouped(UInt64(put + 1))) of \(Format.grouped(UInt64(puts))) puts, \(Format.grouped(consumer.deliveredSoFar)) events taken")
            }
        }
        return Double(BenchSystem.monotonicNanoseconds() - start) / 1e9
    }
}

/// What the watch workload measured.
struct MVCCWatchPhase: Sendable {
    let watchers: Int
    let streams: Int
    let puts: Int
    /// Events taken from the streams: puts × watchers when all went well.
    let events: UInt64
    let responses: UInt64
    /// Catch-up rounds the consumer ran for watchers moved aside.
    let syncRounds: UInt64
    /// Seconds the writer took to put and notify.
    let writeSeconds: Double
    /// Seconds from the first put until the last event was taken.
    let seconds: Double

    var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }
    var eventsPerResponse: Double { responses > 0 ? Double(events) / Double(responses) : 0 }
}

import KeelIO
import KeelMVCC
import Synchronization

/// The consumer thread of the watch workload: drains every stream with `take(max:)`, checks
/// that each watcher receives every revision of the watched key once and in order, and runs a
/// catch-up round whenever watchers were moved aside (a stream was full when `notify` came),
/// as the server's sync loop would. It sleeps on `wake()` (the streams' `onReadable`) when
/// there is nothing to take.
///
/// Fields other than the lock's and the atomics are the consumer thread's until it is joined.
final class MVCCWatchConsumer: @unchecked Sendable {
    private let lock = ConditionLock(conditions: 1)
    private var woken = false
    private var stopped = false
    private var startNanoseconds: UInt64?
    private let deliveredCounter = Atomic<UInt64>(0)

    let watchers: Int
    let streams: Int
    let puts: Int
    let firstRevision: Int64
    let space: StorageKeySpace
    /// Per watcher (stream-major: watcher `id` of stream `s` is at `s * perStream + id`), the
    /// revision it must receive next.
    private var nextRevision: [Int64]
    private let perStream: Int

    private(set) var delivered: UInt64 = 0
    private(set) var responses: UInt64 = 0
    private(set) var syncRounds: UInt64 = 0
    private(set) var lastEventNanoseconds: UInt64 = 0
    private(set) var failure: BenchFailure?

    init(watchers: Int, streams: Int, puts: Int, firstRevision: Int64, space: StorageKeySpace) {
        self.watchers = watchers
        self.streams = streams
        self.puts = puts
        self.firstRevision = firstRevision
        self.space = space
        perStream = (watchers + streams - 1) / streams
        nextRevision = Array(repeating: firstRevision, count: streams * perStream)
    }

    /// Events taken so far (for the progress line; any thread).
    var deliveredSoFar: UInt64 { deliveredCounter.load(ordering: .relaxed) }

    /// A stream became readable.
    func wake() {
        lock.withLock { woken = true }
        lock.signal()
    }

    /// Lets the consumer begin; `start` is when the first put begins.
    func start(at start: UInt64) {
        lock.withLock { startNanoseconds = start }
        lock.signal()
    }

    /// The writer failed: the consumer gives up.
    func stop() {
        lock.withLock { stopped = true }
        lock.signal()
    }

    /// The thread's body: returns once every event arrived, a check failed, or `stop()`.
    func consume(hub: WatchHub, streams handles: [WatchStream]) {
        lock.withLock { while startNanoseconds == nil && !stopped { lock.wait() } }
        let total = UInt64(watchers) * UInt64(puts)
        while delivered < total && failure == nil {
            var took = false
            for (stream, handle) in handles.enumerated() {
                while true {
                    let batch = handle.take(max: MVCCWatchFanOut.takeMax)
                    if batch.isEmpty { break }
                    took = true
                    check(batch, stream: stream)
                }
            }
            deliveredCounter.store(delivered, ordering: .relaxed)
            if delivered >= total || failure != nil { break }
            if hub.unsyncedCount > 0 {
                hub.syncUnsynced(eventsMax: MVCCWatchFanOut.syncEventsMax, watchersMax: MVCCWatchFanOut.syncWatchersMax)
                syncRounds += 1
                continue
            }
            if took { continue }
            let stop = lock.withLock {
                while !woken && !stopped { lock.wait() }
                woken = false
                return stopped
            }
            if stop {
                failure = BenchFailure("mvcc watch: stopped after \(delivered) of \(total) events")
                break
            }
        }
        lastEventNanoseconds = BenchSystem.monotonicNanoseconds()
        if failure == nil { checkComplete() }
    }

    private func check(_ batch: [WatchResponse], stream: Int) {
        for response in batch {
            responses += 1
            guard response.kind == .events else {
                failure = failure ?? BenchFailure("mvcc watch: stream \(stream) watcher \(response.watchID) got \(response.kind)")
                continue
            }
            let slot = stream * perStream + Int(response.watchID.rawValue)
            for event in response.events {
                let expected = nextRevision[slot]
                let put = Int(expected - firstRevision)
                guard event.kind == .put, event.kv.modRevision == expected, event.kv.key == MVCCWatchFanOut.watchedKey,
                      event.kv.version == Int64(put + 1), event.kv.value.first == space.checkByte(0, version: UInt64(put)) else {
                    failure = failure ?? BenchFailure("mvcc watch: stream \(stream) watcher \(response.watchID) got revision \(event.kv.modRevision), expected \(expected)")
                    return
                }
                nextRevision[slot] = expected + 1
                delivered += 1
            }
        }
    }

    private func checkComplete() {
        for watcher in 0..<watchers {
            let slot = (watcher % streams) * perStream + watcher / streams
            guard nextRevision[slot] == firstRevision + Int64(puts) else {
                failure = BenchFailure("mvcc watch: watcher \(watcher) got \(nextRevision[slot] - firstRevision) of \(puts) revisions")
                return
            }
        }
    }
}

import KeelIO

/// What the writer has to tell appenders once a batch is durable (or the WAL failed): which
/// event words to wake and which callbacks to run, in order.
struct Notice {
    var words: UInt8 = 0
    var callbacks: [@Sendable (WALError?) -> Void] = []
    var error: WALError?

    var isEmpty: Bool { words == 0 && callbacks.isEmpty }

    mutating func merge(_ other: Notice) {
        words |= other.words
        callbacks += other.callbacks
        if error == nil { error = other.error }
    }
}

/// Wakes appenders and runs completion callbacks on a thread of its own, so that the WAL
/// writer goes from one fdatasync to the next without spending the time in between on
/// waking dozens of threads (measured: waking ~30 appenders took about a third of each
/// group-commit cycle when the writer did it itself). Notices are handled in the order they
/// were posted, so callbacks still run in append order, each once.
final class DurabilityNotifier: @unchecked Sendable {
    private let events: EventCount
    private let lock = ConditionLock(conditions: 1)
    private var queue: [Notice] = []
    private var stopping = false
    private var thread: OSThread?
    /// The poster wakes a notice's event words itself; only callbacks come to this thread
    /// (`WALOptions.writerWakesWaiters`).
    private let posterWakes: Bool

    init(events: EventCount, posterWakes: Bool) {
        self.events = events
        self.posterWakes = posterWakes
        thread = OSThread(name: "keel-wal-notify") { [unowned self] in self.run() }
    }

    /// Queues `notice`; returns at once. With `posterWakes`, its event words are woken on the
    /// calling thread first and only its callbacks are queued.
    func post(_ notice: Notice) {
        var notice = notice
        if posterWakes {
            wake(notice.words)
            notice.words = 0
        }
        guard !notice.isEmpty else { return }
        lock.lock()
        queue.append(notice)
        let wake = queue.count == 1
        lock.unlock()
        // After the unlock, so the woken thread does not wait again for the mutex.
        if wake { lock.signal() }
    }

    /// Handles what is queued, then stops the thread.
    func stop() {
        lock.withLock { stopping = true }
        lock.signal()
        thread?.join()
        thread = nil
    }

    private func run() {
        var batch: [Notice] = []
        while true {
            lock.lock()
            while queue.isEmpty && !stopping { lock.wait() }
            if queue.isEmpty {
                lock.unlock()
                return
            }
            swap(&batch, &queue)
            lock.unlock()
            for notice in batch {
                wake(notice.words)
                for callback in notice.callbacks { callback(notice.error) }
            }
            batch.removeAll(keepingCapacity: true)
        }
    }

    /// Wakes the threads waiting on each event word set in `words`.
    private func wake(_ words: UInt8) {
        for word in 0..<8 where words & (1 << word) != 0 { events.notifyAll(word) }
    }
}

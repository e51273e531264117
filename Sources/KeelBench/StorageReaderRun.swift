import KeelIO
import Synchronization

/// What the reader threads of one timed get phase share with the thread that runs it: a start
/// gate (all readers begin together, after every thread exists), a counter of finished gets
/// for the progress line, and the place each thread leaves its failure when it stops. The
/// fields under `lock` are touched only at the start and the end; the counter is bumped once per read
/// transaction, never per get.
final class StorageReaderRun: @unchecked Sendable {
    private let lock = ConditionLock(conditions: 1)
    private var deadlineNanoseconds: UInt64?
    private var finishedThreads = 0
    private var firstFailure: BenchFailure?
    private let completedGets = Atomic<UInt64>(0)
    private let stopping = Atomic<Bool>(false)

    /// Opens the gate: readers run until `deadline` (CLOCK_MONOTONIC nanoseconds).
    func start(deadline: UInt64) {
        lock.withLock {
            precondition(deadlineNanoseconds == nil, "a reader run starts once")
            deadlineNanoseconds = deadline
        }
        lock.broadcast()
    }

    /// Opens the gate for `seconds` and keeps `progress` showing "<label>: t/T s, N gets" until
    /// the deadline passes or a reader fails. Returns the start (CLOCK_MONOTONIC nanoseconds);
    /// the caller then joins the readers.
    func time(seconds: Double, progress: ProgressLine, label: String) -> UInt64 {
        let start = BenchSystem.monotonicNanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        self.start(deadline: deadline)
        while true {
            let now = BenchSystem.monotonicNanoseconds()
            if now >= deadline || failed { break }
            BenchSystem.sleep(nanoseconds: min(ProgressLine.refreshNanoseconds, deadline - now))
            let elapsed = Double(BenchSystem.monotonicNanoseconds() - start) / 1e9
            progress.update("\(label): \(Format.fixed(min(elapsed, seconds), decimals: 1))/\(Format.fixed(seconds, decimals: 1)) s, \(Format.grouped(gets)) gets")
        }
        return start
    }

    /// Blocks until `start`, then returns the deadline.
    func waitForStart() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        while deadlineNanoseconds == nil { lock.wait() }
        return deadlineNanoseconds!
    }

    func add(gets: Int) { completedGets.add(UInt64(gets), ordering: .relaxed) }

    /// Gets finished so far, over all readers.
    var gets: UInt64 { completedGets.load(ordering: .relaxed) }

    /// True once any reader failed: the others stop at their next transaction.
    var failed: Bool { stopping.load(ordering: .relaxed) }

    /// Called once by each reader thread as it stops.
    func finish(failure: BenchFailure?) {
        lock.withLock {
            finishedThreads += 1
            if firstFailure == nil, let failure {
                firstFailure = failure
                stopping.store(true, ordering: .relaxed)
            }
        }
    }

    /// The first failure; call after every reader thread was joined.
    func failure(threads: Int) -> BenchFailure? {
        lock.withLock {
            precondition(finishedThreads == threads, "\(finishedThreads) of \(threads) readers finished")
            return firstFailure
        }
    }
}

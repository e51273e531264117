import KeelIO
import KeelWAL

/// What the appender threads of one configuration share with the thread that runs it: a start
/// gate (so that all appenders begin together, after every thread exists), and the place each
/// thread leaves its results when it stops. Every field is guarded by `lock`; the threads
/// touch it only at the start and at the end, never per append.
final class AppenderRun: @unchecked Sendable {
    let recordBytes: Int
    private let lock = ConditionLock(conditions: 1)
    private var deadlineNanoseconds: UInt64?
    private var latency = LatencyRecorder()
    private var finishedThreads = 0
    private var firstFailure: WALError?

    init(recordBytes: Int) {
        precondition(recordBytes >= 0)
        self.recordBytes = recordBytes
    }

    /// Opens the gate: appenders run until `deadline` (CLOCK_MONOTONIC nanoseconds).
    func start(deadline: UInt64) {
        lock.withLock {
            precondition(deadlineNanoseconds == nil, "an appender run starts once")
            deadlineNanoseconds = deadline
        }
        lock.broadcast()
    }

    /// The body of appender thread `thread`: waits for the gate, then appends one entry at a
    /// time with `appendAndWait` until the deadline, timing each call from before the record
    /// is built until it is durable. Indexes come from a range of its own (thread << 40), so
    /// threads never coordinate; the WAL does not check index order on append.
    func appendUntilDeadline(thread: Int, wal: WAL) {
        let deadline = waitForStart()
        let data = [UInt8](repeating: UInt8(truncatingIfNeeded: thread &+ 1), count: recordBytes)
        var index = UInt64(thread) << 40
        var local = LatencyRecorder()
        var failure: WALError?
        var begin = BenchSystem.monotonicNanoseconds()
        while begin < deadline {
            index += 1
            let record = WALRecord.entry(WALEntry(term: Term(1), index: LogIndex(index), data: data))
            do {
                try wal.appendAndWait([record])
            } catch {
                failure = error
                break
            }
            let end = BenchSystem.monotonicNanoseconds()
            local.record(nanoseconds: end - begin)
            begin = end
        }
        finish(local, failure: failure)
    }

    private func waitForStart() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        while deadlineNanoseconds == nil { lock.wait() }
        return deadlineNanoseconds!
    }

    private func finish(_ local: LatencyRecorder, failure: WALError?) {
        lock.withLock {
            latency.merge(local)
            finishedThreads += 1
            if firstFailure == nil { firstFailure = failure }
        }
    }

    /// True once any appender stopped on an error: the run is cut short.
    var failed: Bool { lock.withLock { firstFailure != nil } }

    /// The merged results; call after every appender thread was joined.
    func results(threads: Int) -> (latency: LatencyRecorder, failure: WALError?) {
        lock.withLock {
            precondition(finishedThreads == threads, "\(finishedThreads) of \(threads) appenders finished")
            return (latency, firstFailure)
        }
    }
}

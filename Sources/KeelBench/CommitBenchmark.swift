import KeelIO
import KeelWAL

/// Phase 2 of `keel-bench wal`: commit latency through a real WAL. `appenders` threads each
/// append one entry at a time and wait for it to be durable, so the WAL's group commit is
/// what turns many small appends into few fdatasyncs.
struct CommitBenchmark {
    let backend: BenchBackend
    let appenders: Int
    let seconds: Double
    let recordBytes: Int
    let batchesInFlight: Int
    /// A directory that does not exist yet; the WAL creates it.
    let directory: String

    struct Result: Sendable {
        var backend: BenchBackend
        var appenders: Int
        var seconds: Double
        var latency: LatencySummary
        var stats: WALStats
        /// The raw fdatasync floor measured just before this run.
        var rawSyncsPerSecond: Double = 0
        var records: UInt64 { latency.count }
        var recordsPerSecond: Double { seconds > 0 ? Double(records) / seconds : 0 }
        var syncsPerSecond: Double { seconds > 0 ? Double(stats.syncs) / seconds : 0 }
        var recordsPerSync: Double { stats.syncs > 0 ? Double(stats.records) / Double(stats.syncs) : 0 }
        /// Mean duration of one WAL write + fdatasync.
        var meanSyncMicroseconds: Double { stats.syncs > 0 ? Double(stats.syncNanoseconds) / Double(stats.syncs) / 1e3 : 0 }
        /// Share of the run the writer spent in write + fdatasync (1 = the disk never waited).
        var writerBusy: Double { seconds > 0 ? Double(stats.syncNanoseconds) / 1e9 / seconds : 0 }

        /// records/s ÷ (records per fsync × raw fsyncs/s): 1 when each group-commit batch
        /// costs no more than one raw 4 KiB write + fdatasync.
        var targetRatio: Double {
            let ceiling = recordsPerSync * rawSyncsPerSecond
            return ceiling > 0 ? recordsPerSecond / ceiling : 0
        }
    }

    var label: String { "\(backend.rawValue) × \(appenders)" }

    /// Opens a fresh WAL, runs the appenders for `seconds`, joins them and closes the WAL,
    /// whatever happened in between.
    func run(progress: ProgressLine) throws(BenchFailure) -> Result {
        precondition(appenders >= 1 && seconds > 0)
        var options = WALOptions()
        options.backend = backend.choice
        options.batchesInFlightMax = batchesInFlight
        options.clock = { BenchSystem.monotonicNanoseconds() }
        options.log = { line in BenchSystem.writeStandardError("keel-wal: " + line + "\n") }
        let wal: WAL
        do {
            (wal, _) = try WAL.open(directory: directory, options: options)
        } catch {
            throw BenchFailure("\(label): opening a WAL in \(directory): \(error)")
        }
        guard wal.backend == backend.backend else {
            wal.close()
            throw BenchFailure("\(label): the WAL opened with the \(wal.backend.rawValue) backend")
        }

        let run = AppenderRun(recordBytes: recordBytes)
        let threads = (0..<appenders).map { thread in
            JoinHandle(OSThread(name: "keel-bench-appender-\(thread)") { run.appendUntilDeadline(thread: thread, wal: wal) })
        }
        let start = BenchSystem.monotonicNanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        run.start(deadline: deadline)
        watch(wal, run: run, start: start, deadline: deadline, progress: progress)
        threads.forEach { $0.join() }
        let end = BenchSystem.monotonicNanoseconds()
        let closeFailure = wal.close()
        let stats = wal.stats

        let (latency, failure) = run.results(threads: appenders)
        if let failure { throw BenchFailure("\(label): an append failed: \(failure)") }
        if let closeFailure { throw BenchFailure("\(label): closing the WAL: \(closeFailure)") }
        precondition(stats.records == latency.count, "the WAL wrote \(stats.records) records, appenders saw \(latency.count) durable")
        return Result(backend: backend, appenders: appenders, seconds: Double(end - start) / 1e9,
                      latency: latency.summary, stats: stats)
    }

    /// Refreshes the progress line from the WAL's counters until the deadline (or a failure).
    private func watch(_ wal: WAL, run: AppenderRun, start: UInt64, deadline: UInt64, progress: ProgressLine) {
        while true {
            let now = BenchSystem.monotonicNanoseconds()
            if now >= deadline || run.failed { return }
            BenchSystem.sleep(nanoseconds: min(ProgressLine.refreshNanoseconds, deadline - now))
            let stats = wal.stats
            let elapsed = Double(BenchSystem.monotonicNanoseconds() - start) / 1e9
            progress.update("wal \(label): \(Format.fixed(min(elapsed, seconds), decimals: 1))/\(Format.fixed(seconds, decimals: 1)) s, \(stats.records) records in \(stats.syncs) fsyncs")
        }
    }
}

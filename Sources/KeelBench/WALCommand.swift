import ArgumentParser
import KeelIO
import KeelWAL

/// `keel-bench wal`: how fast this disk makes records durable, first raw (4 KiB pwrite +
/// fdatasync) and then through Keel's WAL with group commit, per backend and appender count.
struct WALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal",
        abstract: "Measure the fdatasync floor and WAL commit latency on this disk.",
        discussion: """
        For each appender count: first the raw floor (4 KiB at increasing offsets of a \
        preallocated, zero-filled file with pwrite + fdatasync), then a fresh WAL per backend, \
        each appender thread appending one entry at a time and waiting until it is durable. \
        Measuring the floor right before the runs it is compared with keeps the ratio honest \
        on a noisy disk. The scratch directory is removed at the end.
        """
    )

    static let appendersMax = 4096
    static let recordBytesMax = 1 << 20

    @Option(help: ArgumentHelp("Directory to run in: a fresh keel-bench-wal.XXXXXX is made inside it and removed afterwards.", valueName: "path"))
    var dir: String?

    @Option(help: "Seconds per configuration.")
    var seconds: Double = 3

    @Option(help: "Entry data bytes per record.")
    var recordBytes: Int = 256

    @Option(help: ArgumentHelp("Comma-separated numbers of appender threads.", valueName: "n,n,..."))
    var appenders = CommaList<Int>([1, 8, 64, 256])

    @Option(help: ArgumentHelp("Comma-separated WAL backends: uring, sync.", valueName: "backend,..."))
    var backends = CommaList<BenchBackend>([.uring, .sync])

    @Option(help: "With io_uring, how many group-commit batches may be on the disk at once.")
    var batchesInFlight = WALOptions().batchesInFlightMax

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func validate() throws {
        guard seconds > 0 && seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
        guard recordBytes >= 0 && recordBytes <= Self.recordBytesMax else {
            throw ValidationError("--record-bytes must be in 0...\(Self.recordBytesMax)")
        }
        guard batchesInFlight >= 1 && batchesInFlight <= DurableFile.writesInFlightMax else {
            throw ValidationError("--batches-in-flight must be in 1...\(DurableFile.writesInFlightMax)")
        }
        guard appenders.values.allSatisfy({ $0 >= 1 && $0 <= Self.appendersMax }) else {
            throw ValidationError("--appenders values must be in 1...\(Self.appendersMax)")
        }
    }

    func run() throws {
        let host = HostReport.current()
        let progress = ProgressLine()
        let root = try BenchSystem.makeTemporaryDirectory(in: dir ?? ".", prefix: "keel-bench-wal.")
        var report = WALReport(host: host, directory: root, seconds: seconds, recordBytes: recordBytes,
                               appenders: appenders.values, backends: [])
        defer {
            do {
                try BenchSystem.removeTree(root)
            } catch {
                progress.note("keel-bench: could not remove \(root): \(error)")
            }
        }

        for backend in unique(backends.values) {
            if backend == .uring, !Ring.isUsable, let errno = Ring.probe {
                report.notes.append("uring skipped: io_uring is unavailable here (\(errno))")
                progress.note("keel-bench: skipping the uring backend: io_uring is unavailable here (\(errno))")
                continue
            }
            report.backends.append(backend)
        }

        for count in unique(appenders.values) {
            let raw = try RawSyncBenchmark(directory: root, seconds: seconds).run(progress: progress)
            report.raws.append((count, raw))
            progress.finish("raw fdatasync floor: \(Format.fixed(raw.syncsPerSecond, decimals: 0)) fsyncs/s, p50 \(raw.latency.p50Microseconds) µs, p99 \(raw.latency.p99Microseconds) µs")
            for backend in report.backends {
                let benchmark = CommitBenchmark(backend: backend, appenders: count, seconds: seconds, recordBytes: recordBytes,
                                                batchesInFlight: batchesInFlight, directory: root + "/wal-\(backend.rawValue)-\(count)")
                do {
                    var result = try benchmark.run(progress: progress)
                    result.rawSyncsPerSecond = raw.syncsPerSecond
                    report.runs.append(result)
                    progress.finish("wal \(benchmark.label): \(Format.fixed(result.recordsPerSecond, decimals: 0)) records/s, p99 \(result.latency.p99Microseconds) µs, \(Format.fixed(result.recordsPerSync, decimals: 1)) records/fsync")
                } catch {
                    report.failures.append(error.description)
                    progress.note("keel-bench: \(error)")
                }
                try BenchSystem.removeTree(benchmark.directory)
            }
        }
        progress.clear()
        print(json ? report.json.rendered : report.table)
        if !report.failures.isEmpty { throw ExitCode.failure }
    }

    /// `values` without repeats, in their first order.
    private func unique<T: Equatable>(_ values: [T]) -> [T] {
        var seen: [T] = []
        for value in values where !seen.contains(value) { seen.append(value) }
        return seen
    }
}

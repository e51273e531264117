import ArgumentParser
import KeelIO
import KeelMVCC
import KeelStorage

/// `keel-bench mvcc`: KeelMVCC's key space and watch engine in one process, over a fresh
/// KeelStorage database: puts through the apply path, lock-free point gets, watch fan-out.
struct MVCCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mvcc",
        abstract: "Measure KeelMVCC: puts through the apply path, point gets on 1 and 2 threads, watch fan-out.",
        discussion: """
        A fresh KVStore in a scratch directory. put: --keys puts of distinct 16-byte keys \
        (scattered over the key order) with 256-byte values, each its own write transaction \
        applying the next raft index, one thread, published once per --apply-batch puts, B+tree \
        commits batched by the store every --commit-rows rows. get: for --seconds each, 1 and then 2 reader threads each Range one \
        uniformly random loaded key at a time, checking the whole value. watch: a WatchHub over \
        the store with --watchers watchers of one key spread over --watch-streams streams; a \
        consumer thread drains every stream with take(max:) (and runs the catch-up rounds for \
        watchers moved aside) while the writer puts that key --watch-puts times, notifying the \
        hub after each put; each watcher must receive every revision once, in order. The \
        scratch directory is removed at the end.
        """
    )

    static let keysMax = 100_000_000

    @Option(help: ArgumentHelp("Directory to run in: a fresh keel-bench-mvcc.XXXXXX is made inside it and removed afterwards.", valueName: "path"))
    var dir: String?

    @Option(help: "Number of keys to put (and then get).")
    var keys: Int = 1_000_000

    @Option(help: "Seconds per get phase.")
    var seconds: Double = 3

    @Option(help: "Seed of the keys and of every random key choice.")
    var seed: UInt64 = 1

    @Option(help: "The store's commitRowsMax: rows per B+tree commit.")
    var commitRows: Int = KVStoreOptions().commitRowsMax

    @Option(help: "Puts per apply batch: the store publishes one read view per batch (1: after every put).")
    var applyBatch: Int = 100

    @Option(help: "Watchers of the one watched key.")
    var watchers: Int = 10_000

    @Option(help: "Watch streams the watchers are spread over.")
    var watchStreams: Int = 100

    @Option(help: "Puts to the watched key.")
    var watchPuts: Int = 1000

    @Option(help: "Workloads to run (put, get, watch); get needs put.")
    var workloads = CommaList<MVCCWorkload>(MVCCWorkload.allCases)

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func validate() throws {
        guard keys >= 1 && keys <= Self.keysMax else { throw ValidationError("--keys must be in 1...\(Self.keysMax)") }
        guard seconds > 0 && seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
        guard applyBatch >= 1 else { throw ValidationError("--apply-batch must be at least 1") }
        guard commitRows >= 1 else { throw ValidationError("--commit-rows must be at least 1") }
        guard watchers >= 1 && watchers <= 1_000_000 else { throw ValidationError("--watchers must be in 1...1000000") }
        guard watchStreams >= 1 && watchStreams <= watchers else { throw ValidationError("--watch-streams must be in 1...--watchers") }
        guard watchPuts >= 1 && watchPuts <= 1_000_000 else { throw ValidationError("--watch-puts must be in 1...1000000") }
        if workloads.values.contains(.get) && !workloads.values.contains(.put) {
            throw ValidationError("--workloads get needs put (the gets read the keys the puts wrote)")
        }
    }

    func run() throws {
        let progress = ProgressLine()
        let root = try BenchSystem.makeTemporaryDirectory(in: dir ?? ".", prefix: "keel-bench-mvcc.")
        defer {
            do {
                try BenchSystem.removeTree(root)
            } catch {
                progress.note("keel-bench: could not remove \(root): \(error)")
            }
        }
        let space = StorageKeySpace(count: keys, keyBytes: 16, valueBytes: 256, seed: seed)
        var report = MVCCReport(host: HostReport.current(), directory: root, space: space, seconds: seconds,
                                commitRows: commitRows, applyBatch: applyBatch)
        report.loadAverageBefore = BenchSystem.loadAverage()
        do throws(BenchFailure) {
            try runWorkloads(root: root, space: space, progress: progress, into: &report)
        } catch {
            report.failures.append(error.description)
            progress.note("keel-bench: \(error)")
        }
        report.loadAverageAfter = BenchSystem.loadAverage()
        progress.clear()
        print(json ? report.json.rendered : report.table)
        if !report.failures.isEmpty { throw ExitCode.failure }
    }

    private func runWorkloads(root: String, space: StorageKeySpace, progress: ProgressLine,
                              into report: inout MVCCReport) throws(BenchFailure) {
        let database: Database
        do {
            database = try Database.open(path: root + "/keel.db", options: StorageOptions())
        } catch {
            throw BenchFailure("mvcc: opening \(root)/keel.db: \(error)")
        }
        defer { database.close() }
        var options = KVStoreOptions()
        options.commitRowsMax = commitRows
        let store: KVStore
        do {
            store = try KVStore(database: database, options: options)
        } catch {
            throw BenchFailure("mvcc: opening the key space: \(error)")
        }
        let benchmark = MVCCBenchmark(store: store, space: space, applyBatch: applyBatch, progress: progress)
        if workloads.values.contains(.put) {
            report.put = try benchmark.put()
            progress.finish("mvcc put: \(Format.grouped(UInt64(report.put!.operationsPerSecond.rounded()))) puts/s")
        }
        if workloads.values.contains(.get) {
            for threads in [1, 2] {
                let phase = try benchmark.gets(threads: threads, seconds: seconds)
                report.gets.append(phase)
                progress.finish("mvcc get × \(threads): \(Format.grouped(UInt64(phase.operationsPerSecond.rounded()))) gets/s")
            }
        }
        if workloads.values.contains(.watch) {
            let fanOut = MVCCWatchFanOut(store: store, watchers: watchers, streams: watchStreams, puts: watchPuts,
                                         space: space, progress: progress)
            report.watch = try fanOut.run()
            progress.finish("mvcc watch: \(Format.grouped(UInt64(report.watch!.eventsPerSecond.rounded()))) events/s")
        }
        do {
            try store.close()
        } catch {
            throw BenchFailure("mvcc: closing the key space: \(error)")
        }
    }
}

/// The workloads `--workloads` can name.
enum MVCCWorkload: String, ExpressibleByArgument, CaseIterable, Sendable {
    case put
    case get
    case watch
}

import ArgumentParser
import KeelIO

/// `keel-bench storage`: Keel's B+tree (KeelStorage) beside LMDB on the same workloads, in one
/// process, each engine on a fresh file of its own.
struct StorageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Compare Keel's B+tree with LMDB: load, scan, random gets, random updates.",
        discussion: """
        For Keel and then LMDB, each on a fresh file: load every key in a shuffled order, \
        1000 puts per durable commit; scan every key in key order; random gets of loaded keys \
        for --seconds on 1 and then 2 reader threads (a read transaction per 1000 gets); random \
        updates, 1000 puts per durable commit, for --seconds. Both engines get the same keys, \
        values and order (drawn from --seed), and both fdatasync every commit. The scratch \
        directory is removed at the end.
        """
    )

    static let keysMax = 100_000_000

    @Option(help: ArgumentHelp("Directory to run in: a fresh keel-bench-storage.XXXXXX is made inside it and removed afterwards.", valueName: "path"))
    var dir: String?

    @Option(help: "Number of keys to load.")
    var keys: Int = 1_000_000

    @Option(help: "Bytes per key (8...511; the last 8 are the key's number).")
    var keyBytes: Int = 16

    @Option(help: "Bytes per value.")
    var valueBytes: Int = 256

    @Option(help: "Seconds per timed phase (each get phase, the update phase).")
    var seconds: Double = 3

    @Option(help: "Seed of the key order and of every random key choice.")
    var seed: UInt64 = 1

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func validate() throws {
        guard keys >= 1 && keys <= Self.keysMax else { throw ValidationError("--keys must be in 1...\(Self.keysMax)") }
        guard StorageKeySpace.keyBytesRange.contains(keyBytes) else {
            throw ValidationError("--key-bytes must be in \(StorageKeySpace.keyBytesRange.lowerBound)...\(StorageKeySpace.keyBytesRange.upperBound)")
        }
        guard StorageKeySpace.valueBytesRange.contains(valueBytes) else {
            throw ValidationError("--value-bytes must be in \(StorageKeySpace.valueBytesRange.lowerBound)...\(StorageKeySpace.valueBytesRange.upperBound)")
        }
        guard seconds > 0 && seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
    }

    func run() throws {
        let progress = ProgressLine()
        let root = try BenchSystem.makeTemporaryDirectory(in: dir ?? ".", prefix: "keel-bench-storage.")
        defer {
            do {
                try BenchSystem.removeTree(root)
            } catch {
                progress.note("keel-bench: could not remove \(root): \(error)")
            }
        }
        let space = StorageKeySpace(count: keys, keyBytes: keyBytes, valueBytes: valueBytes, seed: seed)
        var report = StorageReport(host: HostReport.current(), directory: root, space: space, seconds: seconds)
        progress.update("storage: shuffling \(Format.grouped(UInt64(keys))) keys")
        let order = space.shuffledNumbers()

        report.keel = try measure(directory: root + "/keel", space: space, order: order, progress: progress) { directory throws(BenchFailure) in
            try KeelEngine(path: directory + "/keel.db")
        }
        report.lmdb = try measure(directory: root + "/lmdb", space: space, order: order, progress: progress) { directory throws(BenchFailure) in
            try LMDBEngine(path: directory + "/data.mdb")
        }
        progress.clear()
        print(json ? report.json.rendered : report.table)
        if !report.failures.isEmpty { throw ExitCode.failure }
    }

    /// Runs every workload on the engine `open` makes in the fresh `directory`, then closes it
    /// and removes the directory. A failing workload ends this engine's run; what was
    /// measured before it stays in the result.
    private func measure<Engine: StorageEngine>(
        directory: String, space: StorageKeySpace, order: [Int], progress: ProgressLine,
        open: (String) throws(BenchFailure) -> Engine
    ) throws(IOError) -> StorageEngineRun {
        var run = StorageEngineRun(name: Engine.name)
        run.loadAverageBefore = BenchSystem.loadAverage()
        try Syscalls.makeDirectory(directory)
        defer {
            do {
                try BenchSystem.removeTree(directory)
            } catch {
                progress.note("keel-bench: could not remove \(directory): \(error)")
            }
        }
        do throws(BenchFailure) {
            let engine = try open(directory)
            defer { engine.close() }
            run.summary = engine.summary
            let benchmark = StorageBenchmark(engine: engine, space: space, seconds: seconds, progress: progress)
            try record(.load, into: &run, progress: progress) { () throws(BenchFailure) in try benchmark.load(order: order) }
            run.fileBytesAfterLoad = BenchSystem.fileBytes(engine.dataPath)
            try record(.scan, into: &run, progress: progress) { () throws(BenchFailure) in try benchmark.scan() }
            try record(.get1, into: &run, progress: progress) { () throws(BenchFailure) in try benchmark.randomGets(threads: 1) }
            try record(.get2, into: &run, progress: progress) { () throws(BenchFailure) in try benchmark.randomGets(threads: 2) }
            try record(.update, into: &run, progress: progress) { () throws(BenchFailure) in try benchmark.randomUpdates() }
            run.fileBytesAtEnd = BenchSystem.fileBytes(engine.dataPath)
        } catch {
            run.failure = error.description
            progress.note("keel-bench: \(error)")
        }
        run.loadAverageAfter = BenchSystem.loadAverage()
        return run
    }

    private func record(_ workload: StorageWorkload, into run: inout StorageEngineRun, progress: ProgressLine,
                        _ body: () throws(BenchFailure) -> StoragePhase) throws(BenchFailure) {
        let phase = try body()
        run.phases[workload] = phase
        progress.finish("storage \(run.name) \(workload.title): \(Format.grouped(UInt64(phase.operationsPerSecond.rounded()))) ops/s (\(Format.grouped(phase.operations)) in \(Format.fixed(phase.seconds, decimals: 2)) s)")
    }
}

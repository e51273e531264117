import ArgumentParser
import KeelIO

/// `keel-bench storage`: Keel's B+tree (KeelStorage) beside LMDB on the same workloads, in one
/// process, each engine on a fresh file of its own.
struct StorageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Compare Keel's B+tree with LMDB: load, scan, random gets, random updates.",
        discussion: """
        Keel and LMDB, each on a fresh file, take turns inside every workload (a commit each, \
        or alternating rounds), so both run under the same machine load: load every key in a \
        shuffled order, 1000 puts per durable commit; scan every key in key order (2 rounds); \
        random gets of loaded keys for --seconds on 1 and then 2 reader threads (3 rounds, a \
        read transaction per 1000 gets); random updates, 1000 puts per durable commit, until \
        each engine spent --seconds committing. Both engines get the same keys, values and \
        order (drawn from --seed), and both fdatasync every commit. The scratch directory is \
        removed at the end.
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

    @Option(help: "Seconds per engine per timed phase (each get phase, the update phase).")
    var seconds: Double = 3

    @Option(help: "Seed of the key order and of every random key choice.")
    var seed: UInt64 = 1

    @Option(help: "Engines to run, taking turns (keel, lmdb); one alone is for profiling.")
    var engines = CommaList<StorageEngineChoice>([.keel, .lmdb])

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

        let loadAverageBefore = BenchSystem.loadAverage()
        var keel: KeelEngine?
        var lmdb: LMDBEngine?
        var contenders: [StorageContender] = []
        defer {
            keel?.close()
            lmdb?.close()
        }
        try Syscalls.makeDirectory(root + "/keel")
        try Syscalls.makeDirectory(root + "/lmdb")
        do throws(BenchFailure) {
            if engines.values.contains(.keel) {
                keel = try KeelEngine(path: root + "/keel/keel.db")
                contenders.append(StorageContender(StorageBenchmark(engine: keel!, space: space, progress: progress)))
            }
            if engines.values.contains(.lmdb) {
                lmdb = try LMDBEngine(path: root + "/lmdb/data.mdb")
                contenders.append(StorageContender(StorageBenchmark(engine: lmdb!, space: space, progress: progress)))
            }
        } catch {
            progress.clear()
            throw error
        }
        StorageRounds(space: space, seconds: seconds, progress: progress).run(contenders, order: order)
        let loadAverageAfter = BenchSystem.loadAverage()
        for contender in contenders {
            contender.run.loadAverageBefore = loadAverageBefore
            contender.run.loadAverageAfter = loadAverageAfter
            if contender.run.name == KeelEngine.name { report.keel = contender.run } else { report.lmdb = contender.run }
        }
        progress.clear()
        print(json ? report.json.rendered : report.table)
        if !report.failures.isEmpty { throw ExitCode.failure }
    }
}

/// The engines `--engines` can name.
enum StorageEngineChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
    case keel
    case lmdb
}

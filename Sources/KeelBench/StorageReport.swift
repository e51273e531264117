/// One engine's run: what it is, each workload's measurement, the data file's size.
struct StorageEngineRun: Sendable {
    let name: String
    var summary = ""
    var phases: [StorageWorkload: StoragePhase] = [:]
    var fileBytesAfterLoad: Int64?
    var fileBytesAtEnd: Int64?
    /// The machine's 1-minute load average before and after the run (both engines').
    var loadAverageBefore: Double?
    var loadAverageAfter: Double?
    var failure: String?

    init(name: String) { self.name = name }

    func perSecond(_ workload: StorageWorkload) -> Double? { phases[workload]?.operationsPerSecond }

    /// get ops/s on 2 threads ÷ on 1 thread (2 would be perfect on two free cores).
    var getScaling: Double? {
        guard let one = perSecond(.get1), let two = perSecond(.get2), one > 0 else { return nil }
        return two / one
    }
}

/// The results of `keel-bench storage`, as a table for people or one JSON object for scripts.
struct StorageReport {
    let host: HostReport
    let directory: String
    let space: StorageKeySpace
    let seconds: Double
    var keel = StorageEngineRun(name: KeelEngine.name)
    var lmdb = StorageEngineRun(name: LMDBEngine.name)

    var notes: [String] {
        [
            "both engines read values in place (Keel's withValue, LMDB's mdb_get) and touch only their first byte",
            "each reader thread begins and ends a read transaction per \(StorageWorkload.getsPerTransaction) gets of uniformly random loaded keys; both engines fdatasync every commit",
            "the engines take turns: a commit each in load and update, alternating rounds of the scan (\(StorageRounds.scanRounds)) and of each get phase (\(StorageRounds.getRounds)); the scans run before the gets, so the timed gets read pages already mapped and in the page cache",
        ]
    }

    var failures: [String] { [keel, lmdb].compactMap { run in run.failure.map { "\(run.name): \($0)" } } }

    private static func ratio(_ keel: Double?, _ lmdb: Double?) -> Double? {
        guard let keel, let lmdb, lmdb > 0 else { return nil }
        return keel / lmdb
    }

    // MARK: Table

    var table: String {
        var lines = [
            "keel-bench \(HostReport.benchVersion) storage: allocator \(host.allocator), io_uring \(host.uring), \(BenchSystem.onlineCPUs) CPUs online",
            "\(Format.grouped(UInt64(space.count))) keys of \(space.keyBytes) bytes, \(space.valueBytes)-byte values, seed \(space.seed); \(Format.fixed(seconds, decimals: 1)) s per timed phase; in \(directory) (removed)",
            "Keel: \(keel.summary)",
            "LMDB: \(lmdb.summary)",
            "",
            resultsTable.rendered,
            "",
        ]
        for run in [keel, lmdb] { lines.append(detail(run)) }
        lines.append("")
        lines += notes.map { "note: " + $0 }
        lines += failures.map { "FAILED: " + $0 }
        return lines.joined(separator: "\n")
    }

    private var resultsTable: TextTable {
        var table = TextTable([
            .init(title: "workload", alignment: .left), .init(title: "Keel ops/s", alignment: .right),
            .init(title: "LMDB ops/s", alignment: .right), .init(title: "Keel/LMDB", alignment: .right),
        ])
        func cell(_ value: Double?, decimals: Int) -> String { value.map { Format.fixed($0, decimals: decimals) } ?? "-" }
        for workload in StorageWorkload.allCases {
            let keelValue = keel.perSecond(workload)
            let lmdbValue = lmdb.perSecond(workload)
            table.append([workload.title, keelValue.map { Format.grouped(UInt64($0.rounded())) } ?? "-",
                          lmdbValue.map { Format.grouped(UInt64($0.rounded())) } ?? "-",
                          cell(Self.ratio(keelValue, lmdbValue), decimals: 2)])
            if workload == .get2 {
                table.append(["get scaling, 2 ÷ 1 threads", cell(keel.getScaling, decimals: 2) + "×",
                              cell(lmdb.getScaling, decimals: 2) + "×", cell(Self.ratio(keel.getScaling, lmdb.getScaling), decimals: 2)])
            }
        }
        return table
    }

    private func detail(_ run: StorageEngineRun) -> String {
        var parts: [String] = []
        if let load = run.phases[.load] {
            parts.append("load \(Format.grouped(load.operations)) keys in \(Format.fixed(load.seconds, decimals: 1)) s (\(Format.grouped(load.commits)) commits, \(Self.perCommit(load)))")
        }
        if let update = run.phases[.update] {
            parts.append("update \(Format.grouped(update.operations)) puts in \(Format.grouped(update.commits)) commits (\(Self.perCommit(update)))")
        }
        if let bytes = run.fileBytesAfterLoad { parts.append("file \(Self.mebibytes(bytes)) MiB after load") }
        if let bytes = run.fileBytesAtEnd { parts.append("\(Self.mebibytes(bytes)) MiB at the end") }
        if let before = run.loadAverageBefore, let after = run.loadAverageAfter {
            parts.append("load average \(Format.fixed(before, decimals: 2)) before, \(Format.fixed(after, decimals: 2)) after")
        }
        return "\(run.name): " + (parts.isEmpty ? "no results" : parts.joined(separator: ", "))
    }

    /// "36.2 ms each, 7.1 ms of CPU": a write phase's wall and CPU time per commit.
    private static func perCommit(_ phase: StoragePhase) -> String {
        let commits = Double(max(phase.commits, 1))
        var text = "\(Format.fixed(phase.seconds * 1e3 / commits, decimals: 1)) ms each"
        if let cpu = phase.cpuSeconds { text += ", \(Format.fixed(cpu * 1e3 / commits, decimals: 1)) ms of CPU" }
        return text
    }

    private static func mebibytes(_ bytes: Int64) -> String { Format.fixed(Double(bytes) / 1048576, decimals: 0) }

    // MARK: JSON

    var json: JSONValue {
        .object([
            ("host", host.json),
            ("settings", .object([
                ("directory", .string(directory)),
                ("onlineCPUs", .integer(Int64(BenchSystem.onlineCPUs))),
            ] + space.jsonSettings + [
                ("secondsPerTimedPhase", .number(seconds, decimals: 3)),
                ("putsPerCommit", .integer(Int64(StorageWorkload.putsPerCommit))),
                ("getsPerReadTransaction", .integer(Int64(StorageWorkload.getsPerTransaction))),
                ("lmdbMapBytes", .integer(Int64(LMDBEngine.mapBytes))),
            ])),
            ("engines", .array([Self.json(keel), Self.json(lmdb)])),
            ("ratioKeelToLMDB", .object(StorageWorkload.allCases.map { workload in
                (workload.rawValue, Self.number(Self.ratio(keel.perSecond(workload), lmdb.perSecond(workload)), decimals: 3))
            } + [("getScaling", Self.number(Self.ratio(keel.getScaling, lmdb.getScaling), decimals: 3))])),
            ("notes", .array(notes.map { .string($0) })),
            ("failures", .array(failures.map { .string($0) })),
        ])
    }

    private static func number(_ value: Double?, decimals: Int) -> JSONValue {
        value.map { .number($0, decimals: decimals) } ?? .null
    }

    private static func json(_ run: StorageEngineRun) -> JSONValue {
        .object([
            ("name", .string(run.name)),
            ("summary", .string(run.summary)),
            ("phases", .object(StorageWorkload.allCases.compactMap { workload in
                run.phases[workload].map { (workload.rawValue, json($0)) }
            })),
            ("getScaling", number(run.getScaling, decimals: 3)),
            ("fileBytesAfterLoad", run.fileBytesAfterLoad.map { .integer($0) } ?? .null),
            ("fileBytesAtEnd", run.fileBytesAtEnd.map { .integer($0) } ?? .null),
            ("loadAverageBefore", number(run.loadAverageBefore, decimals: 2)),
            ("loadAverageAfter", number(run.loadAverageAfter, decimals: 2)),
            ("failure", run.failure.map { .string($0) } ?? .null),
        ])
    }

    private static func json(_ phase: StoragePhase) -> JSONValue {
        .object([
            ("operations", .unsigned(phase.operations)),
            ("commits", .unsigned(phase.commits)),
            ("threads", .integer(Int64(phase.threads))),
            ("seconds", .number(phase.seconds, decimals: 3)),
            ("cpuSeconds", phase.cpuSeconds.map { .number($0, decimals: 3) } ?? .null),
            ("operationsPerSecond", .number(phase.operationsPerSecond, decimals: 1)),
        ])
    }
}

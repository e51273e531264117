/// The results of `keel-bench mvcc`, as a table for people or one JSON object for scripts.
struct MVCCReport {
    let host: HostReport
    let directory: String
    let space: StorageKeySpace
    let seconds: Double
    let commitRows: Int
    let applyBatch: Int
    var put: MVCCPhase?
    var gets: [MVCCPhase] = []
    var watch: MVCCWatchPhase?
    var failures: [String] = []
    var loadAverageBefore: Double?
    var loadAverageAfter: Double?

    /// get ops/s on 2 threads ÷ on 1 thread (2 would be perfect on two free cores).
    var getScaling: Double? {
        guard let one = gets.first(where: { $0.threads == 1 }), let two = gets.first(where: { $0.threads == 2 }),
              one.operationsPerSecond > 0 else { return nil }
        return two.operationsPerSecond / one.operationsPerSecond
    }

    var notes: [String] {
        [
            "put: each key its own write transaction (KVStore.put applying the next raft index), one thread, one read view published per \(applyBatch) puts (an apply batch); the B+tree is committed every \(Format.grouped(UInt64(commitRows))) rows (fdatasync twice) and once at the end; CPU is that thread's",
            "get: Range of one key through KVStore.range (published view, storage read transaction, row decode), checking key, value, version and revision",
            "watch: events/s = puts × watchers ÷ time from the first put until the consumer took the last event; every watcher checked to get every revision once, in order",
            "get CPU µs/op is the reader threads' CPU time (user and system) per get: it stays flat from 1 to 2 threads when reads do not contend, even where other work on the machine keeps the wall-clock scaling below 2×",
            "target: get scaling ≈ 2× on two free cores (reads take no lock)",
        ]
    }

    // MARK: Table

    var table: String {
        var lines = [
            "keel-bench \(HostReport.benchVersion) mvcc: allocator \(host.allocator), io_uring \(host.uring), \(BenchSystem.onlineCPUs) CPUs online",
            "\(Format.grouped(UInt64(space.count))) keys of \(space.keyBytes) bytes, \(space.valueBytes)-byte values, seed \(space.seed); \(Format.fixed(seconds, decimals: 1)) s per get phase; in \(directory) (removed)",
            "",
            resultsTable.rendered,
            "",
        ]
        lines += Format.footer(loadAverageBefore: loadAverageBefore, loadAverageAfter: loadAverageAfter,
                               notes: notes, failures: failures)
        return lines.joined(separator: "\n")
    }

    private var resultsTable: TextTable {
        var table = TextTable([
            .init(title: "workload", alignment: .left), .init(title: "ops/s", alignment: .right),
            .init(title: "µs/op/thread", alignment: .right), .init(title: "CPU µs/op", alignment: .right),
            .init(title: "detail", alignment: .left),
        ])
        func cell(_ value: Double?, decimals: Int) -> String { value.map { Format.fixed($0, decimals: decimals) } ?? "-" }
        func rate(_ value: Double) -> String { Format.grouped(UInt64(value.rounded())) }
        func micros(_ phase: MVCCPhase) -> Double? {
            phase.operations > 0 ? phase.seconds * 1e6 * Double(phase.threads) / Double(phase.operations) : nil
        }
        if let put {
            table.append(["put, 1 thread", rate(put.operationsPerSecond), cell(micros(put), decimals: 2),
                          cell(put.cpuMicrosecondsPerOperation, decimals: 2),
                          "\(Format.grouped(put.operations)) puts, \(applyBatch) per apply batch, \(put.storageCommits) B+tree commits"])
        }
        for get in gets {
            let detail = get.threads == 2 ? "scaling 2 ÷ 1 threads: \(cell(getScaling, decimals: 2))×" : ""
            table.append(["get, \(get.threads) thread\(get.threads == 1 ? "" : "s")", rate(get.operationsPerSecond),
                          cell(micros(get), decimals: 2), cell(get.cpuMicrosecondsPerOperation, decimals: 2), detail])
        }
        if let watch {
            table.append(["watch fan-out (events)", rate(watch.eventsPerSecond), "-", "-",
                          "\(Format.grouped(UInt64(watch.watchers))) watchers on \(watch.streams) streams, \(watch.puts) puts in \(Format.fixed(watch.writeSeconds, decimals: 2)) s, \(Format.fixed(watch.eventsPerResponse, decimals: 2)) events/response, \(watch.syncRounds) catch-up rounds"])
        }
        return table
    }

    // MARK: JSON

    var json: JSONValue {
        .object([
            ("host", host.json),
            ("settings", .object([
                ("directory", .string(directory)),
                ("onlineCPUs", .integer(Int64(BenchSystem.onlineCPUs))),
            ] + space.jsonSettings + [
                ("secondsPerGetPhase", .number(seconds, decimals: 3)),
                ("commitRowsMax", .integer(Int64(commitRows))),
                ("applyBatch", .integer(Int64(applyBatch))),
            ])),
            ("put", put.map(Self.json) ?? .null),
            ("gets", .array(gets.map(Self.json))),
            ("getScaling", getScaling.map { .number($0, decimals: 3) } ?? .null),
            ("watch", watch.map(Self.json) ?? .null),
            ("loadAverageBefore", loadAverageBefore.map { .number($0, decimals: 2) } ?? .null),
            ("loadAverageAfter", loadAverageAfter.map { .number($0, decimals: 2) } ?? .null),
            ("notes", .array(notes.map { .string($0) })),
            ("failures", .array(failures.map { .string($0) })),
        ])
    }

    private static func json(_ phase: MVCCPhase) -> JSONValue {
        .object([
            ("operations", .unsigned(phase.operations)),
            ("threads", .integer(Int64(phase.threads))),
            ("seconds", .number(phase.seconds, decimals: 3)),
            ("operationsPerSecond", .number(phase.operationsPerSecond, decimals: 1)),
            ("cpuMicrosecondsPerOperation", phase.cpuMicrosecondsPerOperation.map { .number($0, decimals: 3) } ?? .null),
            ("storageCommits", .integer(Int64(phase.storageCommits))),
        ])
    }

    private static func json(_ watch: MVCCWatchPhase) -> JSONValue {
        .object([
            ("watchers", .integer(Int64(watch.watchers))),
            ("streams", .integer(Int64(watch.streams))),
            ("puts", .integer(Int64(watch.puts))),
            ("events", .unsigned(watch.events)),
            ("responses", .unsigned(watch.responses)),
            ("syncRounds", .unsigned(watch.syncRounds)),
            ("writeSeconds", .number(watch.writeSeconds, decimals: 3)),
            ("seconds", .number(watch.seconds, decimals: 3)),
            ("eventsPerSecond", .number(watch.eventsPerSecond, decimals: 1)),
        ])
    }
}

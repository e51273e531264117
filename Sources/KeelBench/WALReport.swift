import KeelWAL

/// The results of `keel-bench wal`, as a table for people or one JSON object for scripts.
struct WALReport {
    let host: HostReport
    let directory: String
    let seconds: Double
    let recordBytes: Int
    let appenders: [Int]
    var backends: [BenchBackend]
    /// The raw floor, measured before each appender count's runs.
    var raws: [(appenders: Int, result: RawSyncBenchmark.Result)] = []
    var runs: [CommitBenchmark.Result] = []
    var notes: [String] = []
    var failures: [String] = []

    /// Bytes one benchmark entry takes in a segment, header and padding included.
    var recordEncodedBytes: Int {
        RecordCodec.encodedSize(of: .entry(WALEntry(term: Term(1), index: LogIndex(1), data: [UInt8](repeating: 0, count: recordBytes))))
    }


    // MARK: Table

    var table: String {
        var lines = [
            "keel-bench \(HostReport.benchVersion) wal: allocator \(host.allocator), io_uring \(host.uring), crc32c \(host.crc32c)",
            "\(Format.fixed(seconds, decimals: 1)) s per configuration, \(recordBytes)-byte entries (\(recordEncodedBytes) bytes on disk), in \(directory) (removed)",
            "",
        ]
        if !raws.isEmpty {
            lines.append("raw floor: 4 KiB pwrite + fdatasync into a preallocated, zero-filled file, one thread, measured before each appender count")
            var floor = TextTable([
                .init(title: "before", alignment: .right),
                .init(title: "fsyncs/s", alignment: .right), .init(title: "syncs", alignment: .right),
                .init(title: "p50 µs", alignment: .right), .init(title: "p99 µs", alignment: .right),
                .init(title: "p99.9 µs", alignment: .right), .init(title: "max µs", alignment: .right),
            ])
            for (count, raw) in raws {
                floor.append([
                    "\(count) app.", Format.fixed(raw.syncsPerSecond, decimals: 0), String(raw.syncs),
                    String(raw.latency.p50Microseconds), String(raw.latency.p99Microseconds),
                    String(raw.latency.p999Microseconds), String(raw.latency.maxMicroseconds),
                ])
            }
            lines += [floor.rendered, ""]
        }
        if !runs.isEmpty {
            lines.append("WAL commit: each appender thread loops appendAndWait of one entry")
            lines += [runsTable.rendered, ""]
            lines.append("sync µs = mean time of one WAL write + fdatasync; busy = share of the run the WAL writer spent in them")
            lines.append("target = records/s ÷ (records/fsync × raw fsyncs/s of the floor measured just before); 1.00 means each group-commit batch costs one raw 4 KiB fdatasync")
        }
        lines += notes.map { "note: " + $0 }
        lines += failures.map { "FAILED: " + $0 }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    private var runsTable: TextTable {
        var table = TextTable([
            .init(title: "backend", alignment: .left), .init(title: "appenders", alignment: .right),
            .init(title: "records/s", alignment: .right), .init(title: "p50 µs", alignment: .right),
            .init(title: "p99 µs", alignment: .right), .init(title: "p99.9 µs", alignment: .right),
            .init(title: "fsyncs/s", alignment: .right), .init(title: "records/fsync", alignment: .right),
            .init(title: "sync µs", alignment: .right), .init(title: "busy", alignment: .right),
            .init(title: "target", alignment: .right),
        ])
        for run in runs {
            table.append([
                run.backend.rawValue, String(run.appenders),
                Format.fixed(run.recordsPerSecond, decimals: 0), String(run.latency.p50Microseconds),
                String(run.latency.p99Microseconds), String(run.latency.p999Microseconds),
                Format.fixed(run.syncsPerSecond, decimals: 0), Format.fixed(run.recordsPerSync, decimals: 1),
                Format.fixed(run.meanSyncMicroseconds, decimals: 0), Format.fixed(run.writerBusy, decimals: 2),
                Format.fixed(run.targetRatio, decimals: 2),
            ])
        }
        return table
    }

    // MARK: JSON

    var json: JSONValue {
        .object([
            ("host", host.json),
            ("settings", .object([
                ("directory", .string(directory)),
                ("secondsPerConfiguration", .number(seconds, decimals: 3)),
                ("recordBytes", .integer(Int64(recordBytes))),
                ("recordEncodedBytes", .integer(Int64(recordEncodedBytes))),
                ("appenders", .array(appenders.map { .integer(Int64($0)) })),
                ("backends", .array(backends.map { .string($0.rawValue) })),
            ])),
            ("raw", .array(raws.map { Self.json($0.result, appenders: $0.appenders) })),
            ("runs", .array(runs.map { json(for: $0) })),
            ("notes", .array(notes.map { .string($0) })),
            ("failures", .array(failures.map { .string($0) })),
        ])
    }

    private static func json(_ raw: RawSyncBenchmark.Result, appenders: Int) -> JSONValue {
        .object([
            ("beforeAppenders", .integer(Int64(appenders))),
            ("writeBytes", .integer(Int64(RawSyncBenchmark.writeBytes))),
            ("syncs", .unsigned(raw.syncs)),
            ("seconds", .number(raw.measuredSeconds, decimals: 3)),
            ("fsyncsPerSecond", .number(raw.syncsPerSecond, decimals: 1)),
        ] + latencyMembers(raw.latency))
    }

    private func json(for run: CommitBenchmark.Result) -> JSONValue {
        .object([
            ("backend", .string(run.backend.rawValue)),
            ("appenders", .integer(Int64(run.appenders))),
            ("records", .unsigned(run.records)),
            ("seconds", .number(run.seconds, decimals: 3)),
            ("recordsPerSecond", .number(run.recordsPerSecond, decimals: 1)),
        ] + Self.latencyMembers(run.latency) + [
            ("syncs", .unsigned(run.stats.syncs)),
            ("bytes", .unsigned(run.stats.bytes)),
            ("segmentsCut", .unsigned(run.stats.segmentsCut)),
            ("fsyncsPerSecond", .number(run.syncsPerSecond, decimals: 1)),
            ("recordsPerSync", .number(run.recordsPerSync, decimals: 2)),
            ("meanSyncMicroseconds", .number(run.meanSyncMicroseconds, decimals: 1)),
            ("writerBusy", .number(run.writerBusy, decimals: 3)),
            ("rawFsyncsPerSecond", .number(run.rawSyncsPerSecond, decimals: 1)),
            ("targetRatio", .number(run.targetRatio, decimals: 3)),
        ])
    }

    private static func latencyMembers(_ latency: LatencySummary) -> [(String, JSONValue)] {
        [
            ("p50Microseconds", .unsigned(latency.p50Microseconds)),
            ("p99Microseconds", .unsigned(latency.p99Microseconds)),
            ("p999Microseconds", .unsigned(latency.p999Microseconds)),
            ("maxMicroseconds", .unsigned(latency.maxMicroseconds)),
        ]
    }
}

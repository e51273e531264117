/// The results of `keel-bench raft`, as a table for people or one JSON object for scripts.
struct RaftReport {
    let host: HostReport
    let seconds: Double
    let entryBytes: Int
    let batchesProposals: Bool
    var phases: [RaftPhase] = []
    var failures: [String] = []
    var loadAverageBefore: Double?
    var loadAverageAfter: Double?
    /// The goal the raft core is held to: entries/s at 1024 in flight on one core.
    static let targetEntriesPerSecond = 1_000_000.0

    var notes: [String] {
        [
            "3 RawNodes on one thread over MemoryStorage with an instant in-process network: raft's own cost, no disk, no sockets",
            "an entry counts when the leader hands it out as committed; CPU is getrusage user + system of the whole process over the timed run",
            batchesProposals
                ? "before each round the client proposes every missing entry as one batch (propose(batch:)), as the node's raft loop drains waiting requests"
                : "the client proposes each entry with its own propose() call (--one-entry-per-proposal)",
            "every entry shares one \(entryBytes)-byte payload buffer, so client-side allocation is not measured",
            "target: \(Format.grouped(UInt64(Self.targetEntriesPerSecond))) entries/s at 1024 in flight",
        ]
    }

    // MARK: Table

    var table: String {
        var lines = [
            "keel-bench \(HostReport.benchVersion) raft: allocator \(host.allocator), \(BenchSystem.onlineCPUs) CPUs online",
            "3 voters, \(entryBytes)-byte entries, \(Format.fixed(seconds, decimals: 1)) s per configuration after \(Format.fixed(RaftBenchmark.warmUpSeconds, decimals: 1)) s of warm-up",
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
            .init(title: "in flight", alignment: .right), .init(title: "entries", alignment: .right),
            .init(title: "entries/s", alignment: .right), .init(title: "CPU ns/entry", alignment: .right),
            .init(title: "user %", alignment: .right), .init(title: "Readys/entry", alignment: .right),
            .init(title: "messages/entry", alignment: .right), .init(title: "refused entries", alignment: .right),
        ])
        func cell(_ value: Double?, decimals: Int) -> String { value.map { Format.fixed($0, decimals: decimals) } ?? "-" }
        for phase in phases {
            let userShare = phase.cpuMicroseconds > 0 ? 100 * Double(phase.userMicroseconds) / Double(phase.cpuMicroseconds) : nil
            table.append([
                Format.grouped(UInt64(phase.inFlight)), Format.grouped(phase.entries),
                Format.grouped(UInt64(phase.entriesPerSecond.rounded())), cell(phase.cpuNanosecondsPerEntry, decimals: 0),
                cell(userShare, decimals: 0), cell(phase.readiesPerEntry, decimals: 3),
                cell(phase.messagesPerEntry, decimals: 3), Format.grouped(phase.refusedProposals),
            ])
        }
        return table
    }

    // MARK: JSON

    var json: JSONValue {
        .object([
            ("host", host.json),
            ("settings", .object([
                ("onlineCPUs", .integer(Int64(BenchSystem.onlineCPUs))),
                ("nodes", .integer(Int64(RaftCluster.nodeCount))),
                ("entryBytes", .integer(Int64(entryBytes))),
                ("batchesProposals", .bool(batchesProposals)),
                ("secondsPerConfiguration", .number(seconds, decimals: 3)),
                ("warmUpSeconds", .number(RaftBenchmark.warmUpSeconds, decimals: 3)),
                ("targetEntriesPerSecond", .number(Self.targetEntriesPerSecond, decimals: 0)),
            ])),
            ("phases", .array(phases.map(Self.json))),
            ("loadAverageBefore", loadAverageBefore.map { .number($0, decimals: 2) } ?? .null),
            ("loadAverageAfter", loadAverageAfter.map { .number($0, decimals: 2) } ?? .null),
            ("notes", .array(notes.map { .string($0) })),
            ("failures", .array(failures.map { .string($0) })),
        ])
    }

    private static func json(_ phase: RaftPhase) -> JSONValue {
        func number(_ value: Double?, decimals: Int) -> JSONValue { value.map { .number($0, decimals: decimals) } ?? .null }
        return .object([
            ("inFlight", .integer(Int64(phase.inFlight))),
            ("entries", .unsigned(phase.entries)),
            ("seconds", .number(phase.seconds, decimals: 3)),
            ("entriesPerSecond", .number(phase.entriesPerSecond, decimals: 1)),
            ("cpuUserMicroseconds", .unsigned(phase.userMicroseconds)),
            ("cpuSystemMicroseconds", .unsigned(phase.systemMicroseconds)),
            ("cpuNanosecondsPerEntry", number(phase.cpuNanosecondsPerEntry, decimals: 1)),
            ("readies", .unsigned(phase.readies)),
            ("messages", .unsigned(phase.messages)),
            ("readiesPerEntry", number(phase.readiesPerEntry, decimals: 4)),
            ("messagesPerEntry", number(phase.messagesPerEntry, decimals: 4)),
            ("refusedProposals", .unsigned(phase.refusedProposals)),
        ])
    }
}

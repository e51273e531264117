import ArgumentParser

/// `keel-bench raft`: the cost of KeelRaft itself, an in-process 3-node cluster with an
/// instant network and no disk, at several numbers of proposals in flight.
struct RaftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft",
        abstract: "Measure KeelRaft alone: committed entries/s and CPU per entry, 3 nodes in one thread.",
        discussion: """
        For each --in-flight value, a fresh cluster of three RawNodes over MemoryStorage, joined \
        by an instant in-process network, elects node 1; a client then keeps that many proposals \
        of --entry-bytes each proposed and not yet committed at the leader, for --seconds after a \
        short warm-up. Reports committed entries per second and CPU time (getrusage user + \
        system) per entry. All three nodes run on one thread: the figures are one core's, \
        without disk or network costs.
        """
    )

    static let inFlightMax = 1 << 16

    @Option(help: "Seconds per configuration.")
    var seconds: Double = 3

    @Option(help: "Data bytes per entry.")
    var entryBytes: Int = 256

    @Option(help: ArgumentHelp("Comma-separated numbers of proposals in flight.", valueName: "n,n,..."))
    var inFlight = CommaList<Int>([1, 64, 1024])

    @Flag(help: "Propose each entry with its own propose() call instead of one propose(batch:) per round.")
    var oneEntryPerProposal = false

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func validate() throws {
        guard seconds > 0 && seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
        guard entryBytes >= 0 && entryBytes <= 1 << 20 else { throw ValidationError("--entry-bytes must be in 0...\(1 << 20)") }
        guard inFlight.values.allSatisfy({ $0 >= 1 && $0 <= Self.inFlightMax }) else {
            throw ValidationError("--in-flight values must be in 1...\(Self.inFlightMax)")
        }
    }

    func run() throws {
        let progress = ProgressLine()
        var report = RaftReport(host: HostReport.current(), seconds: seconds, entryBytes: entryBytes,
                                batchesProposals: !oneEntryPerProposal)
        let benchmark = RaftBenchmark(seconds: seconds, entryBytes: entryBytes, batchesProposals: !oneEntryPerProposal,
                                      progress: progress)
        report.loadAverageBefore = BenchSystem.loadAverage()
        for window in inFlight.values {
            do throws(BenchFailure) {
                let phase = try benchmark.run(inFlight: window)
                report.phases.append(phase)
                progress.finish("raft \(window) in flight: \(Format.grouped(UInt64(phase.entriesPerSecond.rounded()))) entries/s")
            } catch {
                report.failures.append(error.description)
                progress.note("keel-bench: \(error)")
            }
        }
        report.loadAverageAfter = BenchSystem.loadAverage()
        progress.clear()
        print(json ? report.json.rendered : report.table)
        if !report.failures.isEmpty { throw ExitCode.failure }
    }
}

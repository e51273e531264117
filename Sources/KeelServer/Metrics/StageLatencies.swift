/// The built-in latency harness: one `StageHistogram` per stage a request passes through, so
/// a user sees where a slow request spends its time. Served as JSON at `/debug/latency` and,
/// for the stages etcd has no metric of its own for, at `/metrics` as
/// `keel_stage_duration_seconds{stage="..."}`; the WAL's write + fdatasync and the B+tree
/// commit are exported under etcd's names only (etcd_disk_wal_fsync_duration_seconds,
/// etcd_disk_backend_commit_duration_seconds).
///
/// A write goes: arrival → `proposalWait` (queued for the raft loop) → raft appends the entry
/// to the WAL (`walWriteFsync`, per group commit) and, with peers, replicates it
/// (`replication`, per round trip) → committed entries queue for the apply loop (`applyQueue`),
/// which waits until the WAL holds them (`applyWALWait`) and applies them (`apply`, per
/// batch) → the answer goes back; `writeTotal` is arrival to answer. The B+tree commits
/// applied rows in the background (`backendCommit`). A linearizable read waits for its read
/// index to be applied (`readIndexWait`); every Range then walks the revision index
/// (`indexLookup`) and reads the rows (`backendRead`).
public final class StageLatencies: Sendable {
    public enum Path: String, Sendable { case write, read }

    /// One stage: its name in JSON and in the metric's label, its path and what it measures.
    public struct Stage: Sendable {
        public let name: String
        public let path: Path
        public let measures: String
        public let histogram: StageHistogram
    }

    public let proposalWait: StageHistogram
    public let walWriteFsync: StageHistogram
    public let replication: StageHistogram
    public let applyQueue: StageHistogram
    public let applyWALWait: StageHistogram
    public let apply: StageHistogram
    public let backendCommit: StageHistogram
    public let writeTotal: StageHistogram
    public let readIndexWait: StageHistogram
    public let indexLookup: StageHistogram
    public let backendRead: StageHistogram
    /// Every stage in the order a request meets them.
    public let all: [Stage]

    /// Declares `keel_stage_duration_seconds` in `registry`.
    public init(registry: MetricsRegistry) {
        let family = registry.histogram(
            "keel_stage_duration_seconds", help: "Time spent in each stage of Keel's write and read paths (see /debug/latency).",
            buckets: Histogram.exponentialBounds(start: 0.00001, factor: 2, count: 21), labelNames: ["stage"])
        var all: [Stage] = []
        func stage(_ name: String, _ path: Path, exported: Bool = true, _ measures: String) -> StageHistogram {
            let histogram = StageHistogram(exported: exported ? family.labels(name) : nil)
            all.append(Stage(name: name, path: path, measures: measures, histogram: histogram))
            return histogram
        }
        proposalWait = stage("proposal_wait", .write, "a write from its arrival at the node until the raft loop proposes it")
        walWriteFsync = stage("wal_write_fsync", .write, exported: false, "one WAL group commit: write and fdatasync")
        replication = stage("replication", .write, "one AppendEntries round trip to a follower (clusters of several members)")
        applyQueue = stage("apply_queue", .write, "committed entries waiting for the apply loop")
        applyWALWait = stage("apply_wal_wait", .write, "the apply loop waiting until the WAL holds what it is to apply")
        apply = stage("apply", .write, "applying one batch of entries to the key space and publishing it")
        backendCommit = stage("backend_commit", .write, exported: false, "one B+tree commit (background, every 10,000 rows, 32 MiB or second)")
        writeTotal = stage("write_total", .write, "a write from its arrival at the node until its outcome is known")
        readIndexWait = stage("read_index_wait", .read, "a linearizable read waiting until its read index is applied")
        indexLookup = stage("index_lookup", .read, "a Range's walk of the in-memory revision index")
        backendRead = stage("backend_read", .read, "a Range's reading of the rows it found from the B+tree")
        self.all = all
    }

    /// Forgets what every stage recorded (not the Prometheus histograms: counters never reset).
    public func reset() {
        for stage in all { stage.histogram.reset() }
    }

    /// The body of `/debug/latency`: every stage with its count and, in microseconds, mean,
    /// p50, p90, p99, p99.9 and max.
    public func json() -> String {
        let stages = all.map { stage -> String in
            let summary = stage.histogram.summary
            let figures: [(String, UInt64)] = [
                ("meanMicroseconds", summary.meanNanoseconds), ("p50Microseconds", summary.p50Nanoseconds),
                ("p90Microseconds", summary.p90Nanoseconds), ("p99Microseconds", summary.p99Nanoseconds),
                ("p999Microseconds", summary.p999Nanoseconds), ("maxMicroseconds", summary.maxNanoseconds),
            ]
            let rendered = figures.map { name, nanoseconds in "\"\(name)\":\(Self.microseconds(nanoseconds))" }
            return "{\"stage\":\"\(stage.name)\",\"path\":\"\(stage.path.rawValue)\",\"measures\":\"\(stage.measures)\","
                + "\"count\":\(summary.count),\(rendered.joined(separator: ","))}"
        }
        return "{\"stages\":[\n" + stages.joined(separator: ",\n") + "\n]}\n"
    }

    /// Nanoseconds as microseconds with one decimal.
    static func microseconds(_ nanoseconds: UInt64) -> String {
        let tenths = (nanoseconds + 50) / 100
        return "\(tenths / 10).\(tenths % 10)"
    }
}

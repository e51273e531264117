import KeelIO

/// How a WAL is laid out and written.
public struct WALOptions: Sendable {
    /// The size a new segment is preallocated to (a batch larger than that gets a segment of
    /// its own size). etcd uses 64 MiB too.
    public var segmentBytes: Int64 = 64 << 20
    /// Group commit closes a batch at this many bytes; appenders beyond it wait for the next.
    /// At most `RecordFormat.batchBytesCeiling`.
    public var batchBytesMax: Int = 1 << 20
    /// io_uring, the pwrite fallback, or whichever works here (`--wal-io`).
    public var backend: IOBackendChoice = .auto
    /// Where the WAL reports what it repaired on open.
    public var log: @Sendable (String) -> Void = { line in print("keel-wal: " + line) }

    public init() {}

    func validate() {
        precondition(segmentBytes >= 4096, "segmentBytes must be at least 4096")
        precondition(batchBytesMax >= 4096 && batchBytesMax <= RecordFormat.batchBytesCeiling, "batchBytesMax out of range")
    }
}

/// What replay found in the directory.
public struct WALReplay: Sendable, Equatable {
    /// The last hard state written, if any.
    public var hardState: HardState?
    /// The last snapshot marker written, if any.
    public var snapshot: SnapshotMarker?
    /// Every entry after the snapshot index given to `open`, in index order, with entries
    /// that a later write overwrote (raft truncating a follower's log) already dropped.
    public var entries: [WALEntry]
    /// Set when a torn or zero-filled tail was cut off the last segment.
    public var repairedTail: TailRepair?

    public init(hardState: HardState? = nil, snapshot: SnapshotMarker? = nil, entries: [WALEntry] = [], repairedTail: TailRepair? = nil) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
        self.repairedTail = repairedTail
    }
}

/// A torn tail that open cut off the last segment.
public struct TailRepair: Sendable, Equatable {
    public var segment: String
    public var offset: Int64
    public var reason: String
}

/// Counters of the writer, for benchmarks and metrics.
public struct WALStats: Sendable, Equatable {
    /// write + fdatasync rounds (one per group-commit batch).
    public var syncs: UInt64 = 0
    public var records: UInt64 = 0
    public var bytes: UInt64 = 0
    public var segmentsCut: UInt64 = 0
}

import KeelIO

/// How a WAL is laid out and written.
public struct WALOptions: Sendable {
    /// The size a new segment is preallocated to (a batch larger than that gets a segment of
    /// its own size). etcd uses 64 MiB too.
    public var segmentBytes: Int64 = 64 << 20
    /// Group commit closes a batch at this many bytes; appenders beyond it wait for the next.
    /// `batchBytesMax × batchesInFlightMax` is at most `RecordFormat.batchBytesCeiling`.
    public var batchBytesMax: Int = 1 << 20
    /// io_uring, the pwrite fallback, or whichever works here (`--wal-io`).
    public var backend: IOBackendChoice = .auto
    /// With io_uring, how many group-commit batches may be on the disk at once (each a write
    /// and its fdatasync); the next batch is submitted while earlier fdatasyncs still run.
    /// The fallback writes on the writer thread, so it always has one. Measured here with
    /// `keel-bench wal`: concurrent fdatasyncs on one file overlap (two at once gave 1.36×
    /// the syncs per second of one).
    public var batchesInFlightMax = 2
    /// The nice value of the WAL's writer thread (nil leaves it as it is). The writer is the
    /// one thread every commit waits on, and with io_uring the kernel workers that run its
    /// fdatasyncs inherit its priority; on a busy machine they otherwise queue behind the
    /// threads that are waiting for them. The writer mostly sleeps in I/O, so the highest
    /// priority costs the rest of the machine little. Measured here beside two busy loops:
    /// linked write + fdatasync through io_uring ran 2,700–4,700/s at nice 0, ~5,600/s at
    /// nice -10 and ~7,000/s at nice -20. Needs CAP_SYS_NICE (or RLIMIT_NICE); without it
    /// the writer keeps its priority and the WAL logs that once.
    public var writerNice: Int32? = -20
    /// The writer wakes the threads waiting in `wait(for:)` itself, and leaves only completion
    /// callbacks to the notifier thread. For a WAL with a waiter or two (a node's raft and
    /// apply loops): the hop through the notifier is a second cross-core wake-up on every
    /// commit's path. With many waiting appenders the notifier wakes them (the default).
    public var writerWakesWaiters = false
    /// A monotonic clock in nanoseconds. When set, the writer measures how long each write +
    /// fdatasync takes (`WALStats.syncNanoseconds`); the WAL never reads a clock otherwise.
    public var clock: (@Sendable () -> UInt64)?
    /// Told each batch's write + fdatasync time in nanoseconds (with `clock` set), on the
    /// writer thread with the WAL's lock held: it must only record (a histogram), never block.
    public var syncObserver: (@Sendable (UInt64) -> Void)?
    /// Where the WAL reports what it repaired on open.
    public var log: @Sendable (String) -> Void = { line in print("keel-wal: " + line) }

    public init() {}

    func validate() {
        precondition(segmentBytes >= 4096, "segmentBytes must be at least 4096")
        precondition(batchBytesMax >= 4096 && batchBytesMax <= RecordFormat.batchBytesCeiling, "batchBytesMax out of range")
        precondition(batchesInFlightMax >= 1 && batchesInFlightMax <= DurableFile.writesInFlightMax, "batchesInFlightMax out of range")
        // Replay tells a torn tail from older damage by how far past the damage valid records
        // can lie: no further than everything that may have been in flight at the crash.
        precondition(batchBytesMax * batchesInFlightMax <= RecordFormat.batchBytesCeiling,
                     "batchBytesMax × batchesInFlightMax must stay within RecordFormat.batchBytesCeiling")
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
    /// Time spent in write + fdatasync (only with `WALOptions.clock`).
    public var syncNanoseconds: UInt64 = 0
}

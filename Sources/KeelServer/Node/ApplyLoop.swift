import KeelIO
import KeelMVCC
import KeelRaft
import KeelStorage
import KeelWAL
import Synchronization

/// Committed entries for the apply loop, and the linearizable reads to release once the
/// entries through their read index are applied.
struct ApplyTask: Sendable {
    /// Apply nothing before this WAL ticket is durable: it covers the Ready that carried the
    /// entries (the leader counts its own log at append, before the disk has it).
    var ticket: WAL.Ticket?
    /// A snapshot from the leader to install before `entries` (its database saved in the snap
    /// directory, its marker in the WAL by the time `ticket` is durable).
    var snapshot: KeelRaft.LogIndex? = nil
    var entries: [Entry]
    var reads: [(index: KeelRaft.LogIndex, ids: [UInt64])]
    /// When the raft loop handed the task over (`MonotonicClock`).
    var handedOver: UInt64
}

/// Carries out one committed entry against the key space.
protocol EntryApplier: AnyObject {
    /// Applies `entry`, recording it as applied in the store. Returns the id of the request
    /// that proposed it and what applying it did, to answer once the batch holding it is
    /// published; nil when nobody is to be answered.
    func apply(_ entry: Entry) throws(StorageError) -> (id: UInt64, outcome: AppliedOutcome)?
    /// Answers the requests of a published batch, in order.
    func answer(_ answers: [(id: UInt64, outcome: AppliedOutcome)])
}

/// What a linearizable read learns from the apply loop.
enum ReadIndexOutcome: Sendable {
    /// Every entry through the read index is applied: serve the read from the current state.
    case applied
    /// No read index will come (no leader, leadership lost, node stopping).
    case refused
}

/// The thread that applies committed entries in order into the key space.
///
/// It takes every task queued at once, waits once for the last WAL ticket among them, applies
/// all their entries in one apply batch (one publish of the read view, one watch
/// notification round), then answers the batch's requests and releases the reads whose index
/// is now applied. Between batches it runs compaction in bounded steps; every
/// `snapshotCount` entries it commits the B+tree and has the raft loop record a snapshot.
final class ApplyLoop: @unchecked Sendable {
    // Sendable: everything but `mailbox` and `appliedIndex` belongs to the loop's thread.
    let mailbox = Mailbox<ApplyTask>()
    /// The index of the last entry applied and published.
    let appliedIndex: Atomic<UInt64>
    /// Set while another thread needs the B+tree's writer role (a defragmentation's switch):
    /// the loop then commits its open write transaction after every batch.
    let writerWanted = Atomic<Bool>(false)
    /// Bytes applied but not yet committed to the B+tree (the quota counts them).
    let uncommittedBytes = Atomic<Int>(0)
    /// Applied rows are committed to the B+tree at least this often (they are durable in the
    /// WAL already; this bounds replay after a restart and keeps dbSize current).
    static let commitIntervalNanoseconds: UInt64 = 1_000_000_000
    private var lastCommit = MonotonicClock.nanoseconds()
    private var commitsSeen = 0
    private let keySpace: KeySpace
    private let wal: WAL
    private let applier: any EntryApplier
    private let readWaiters: Waiters<ReadIndexOutcome>
    private let snapshotCount: UInt64
    private let stages: StageLatencies
    private let fatal: @Sendable (String) -> Void
    /// Set before `start`: tells the raft loop of a snapshot.
    var snapshotTaken: (@Sendable (KeelRaft.LogIndex, KeelRaft.Term) -> Void)?
    /// Set before `start` in a cluster: installs the snapshots raft restores.
    var installer: SnapshotInstaller?
    private var applied: ConsistentIndex
    private var snapshotIndex: UInt64
    private var pendingReads: [(index: KeelRaft.LogIndex, ids: [UInt64])] = []
    private var thread: OSThread?

    init(keySpace: KeySpace, wal: WAL, applier: any EntryApplier, readWaiters: Waiters<ReadIndexOutcome>,
         snapshotIndex: UInt64, snapshotCount: UInt64, stages: StageLatencies, fatal: @escaping @Sendable (String) -> Void) {
        self.keySpace = keySpace
        self.wal = wal
        self.applier = applier
        self.readWaiters = readWaiters
        self.snapshotCount = max(snapshotCount, 1)
        self.stages = stages
        self.fatal = fatal
        applied = keySpace.store.consistentIndex
        appliedIndex = Atomic(applied.index)
        self.snapshotIndex = max(snapshotIndex, applied.index)
    }

    func submit(_ task: ApplyTask) { mailbox.post(task) }

    func start() {
        thread = OSThread(name: "keel-apply") { [self] in run() }
    }

    /// Applies what is queued, commits the B+tree and stops. Call after the raft loop stopped.
    func stop() {
        mailbox.close()
        thread?.join()
        thread = nil
    }

    private func run() {
        while true {
            let compacting = keySpace.store.compactionPending
            let commitDue = keySpace.store.pendingBytes > 0 ? lastCommit + Self.commitIntervalNanoseconds : nil
            let (tasks, closed) = mailbox.take(waitingUntil: compacting ? 0 : commitDue)
            do throws(StorageError) {
                if !tasks.isEmpty { try applyBatch(tasks) } else if compacting { _ = try keySpace.store.compactStep() }
                if keySpace.store.pendingBytes > 0, MonotonicClock.nanoseconds() >= lastCommit + Self.commitIntervalNanoseconds {
                    try keySpace.store.flush()
                }
                noteCommits()
                if closed {
                    try keySpace.store.flush()
                    for read in pendingReads { for id in read.ids { readWaiters.complete(id, with: .refused) } }
                    return
                }
            } catch {
                fatal("failed to apply to the backend: \(error)")
            }
        }
    }

    private func applyBatch(_ tasks: [ApplyTask]) throws(StorageError) {
        let taken = MonotonicClock.nanoseconds()
        for task in tasks { stages.applyQueue.record(since: task.handedOver, now: taken) }
        if let ticket = tasks.last(where: { $0.ticket != nil })?.ticket {
            do throws(WALError) { try wal.wait(for: ticket) } catch { fatal("the raft log failed: \(error)") }
            stages.applyWALWait.record(since: taken, now: MonotonicClock.nanoseconds())
        }
        let applying = MonotonicClock.nanoseconds()
        var answers: [(id: UInt64, outcome: AppliedOutcome)] = []
        keySpace.beginBatch()
        for task in tasks {
            if let snapshot = task.snapshot {
                // Installed outside a batch: the writes so far are published and answered first.
                keySpace.endBatch()
                appliedIndex.store(applied.index, ordering: .releasing)
                applier.answer(answers)
                answers.removeAll()
                try install(snapshot)
                keySpace.beginBatch()
            }
            for entry in task.entries where entry.index.rawValue > applied.index {
                if let answer = try applier.apply(entry) { answers.append(answer) }
                applied = ConsistentIndex(index: entry.index.rawValue, term: entry.term.rawValue)
            }
            pendingReads += task.reads
        }
        keySpace.endBatch()
        stages.apply.record(since: applying, now: MonotonicClock.nanoseconds())
        appliedIndex.store(applied.index, ordering: .releasing)
        applier.answer(answers)
        releaseReads()
        if applied.index - snapshotIndex >= snapshotCount {
            try keySpace.store.flush()
            snapshotIndex = applied.index
            snapshotTaken?(KeelRaft.LogIndex(applied.index), KeelRaft.Term(applied.term))
        }
        if keySpace.store.compactionPending { _ = try keySpace.store.compactStep() }
        if writerWanted.load(ordering: .relaxed) { try keySpace.store.flush() }
    }

    /// Installs the snapshot raft restored at `index`: the backend becomes the leader's
    /// database, whose consistent index (at or past `index`) is where applying continues.
    private func install(_ index: KeelRaft.LogIndex) throws(StorageError) {
        guard let installer else { preconditionFailure("raft restored snapshot \(index) but nothing installs snapshots") }
        applied = try installer.install(index: index)
        snapshotIndex = applied.index
        appliedIndex.store(applied.index, ordering: .releasing)
        noteCommits()
    }

    /// Notes when the B+tree last committed (by the store's own bounds or a flush) and what is
    /// still uncommitted.
    private func noteCommits() {
        if keySpace.store.storageCommits != commitsSeen {
            commitsSeen = keySpace.store.storageCommits
            lastCommit = MonotonicClock.nanoseconds()
        }
        uncommittedBytes.store(keySpace.store.pendingBytes, ordering: .relaxed)
    }

    private func releaseReads() {
        guard !pendingReads.isEmpty else { return }
        var waiting: [(index: KeelRaft.LogIndex, ids: [UInt64])] = []
        var released: [(id: UInt64, outcome: ReadIndexOutcome)] = []
        for read in pendingReads {
            if read.index.rawValue <= applied.index {
                released += read.ids.map { ($0, .applied) }
            } else {
                waiting.append(read)
            }
        }
        pendingReads = waiting
        readWaiters.complete(released)
    }
}

import KeelIO
import KeelRaft
import KeelWAL
import Synchronization

/// What the raft loop is asked to do, from any thread.
enum RaftInput: Sendable {
    /// A client write, encoded; `id` is its waiter, failed if raft refuses the proposal;
    /// `arrived` is when the node took it (`MonotonicClock`).
    case propose(data: [UInt8], id: UInt64, arrived: UInt64)
    /// A linearizable read waiting for a read index; `id` is its read waiter.
    case readIndex(id: UInt64)
    /// The B+tree durably holds every entry through `index`: record a snapshot there.
    case snapshotTaken(index: KeelRaft.LogIndex, term: KeelRaft.Term)
    /// Hand leadership to `member` (Maintenance/MoveLeader).
    case transferLeader(NodeID)
}

/// What the raft loop publishes for every other thread: response headers, Status, metrics.
final class RaftState: Sendable {
    let term = Atomic<UInt64>(0)
    let leader = Atomic<UInt64>(0)
    let commitIndex = Atomic<UInt64>(0)
    let lastIndex = Atomic<UInt64>(0)
    let leaderChanges = Atomic<UInt64>(0)
    let proposalsDropped = Atomic<UInt64>(0)
}

/// The thread that drives raft: it takes every proposal queued since its last turn into one
/// batch, ticks the clock, and turns each Ready into WAL appends (group commit: it never
/// waits for the disk) and apply tasks (the apply loop waits for their WAL ticket).
///
/// Linearizable reads are batched too: every read queued since the last turn shares one
/// read-index request.
final class RaftLoop: @unchecked Sendable {
    // Sendable: the raw node and log store are touched only by the loop's thread; other
    // threads go through `mailbox` and `state`.
    let mailbox = Mailbox<RaftInput>()
    let state = RaftState()
    private let node: RawNode
    private let log: RaftLogStore
    private let tickNanoseconds: UInt64
    private let apply: ApplyLoop
    private let snapshotKeepEntries: UInt64
    private let stages: StageLatencies
    /// Called for a proposal raft refused, and for reads whose read index was refused.
    private let refused: @Sendable (_ ids: [UInt64], _ reads: Bool) -> Void
    private let fatal: @Sendable (String) -> Void
    private let onEvent: @Sendable (String, [(String, String)]) -> Void
    private var lastTicket: WAL.Ticket?
    private var readContexts: [UInt64: [UInt64]] = [:]
    private var nextReadContext: UInt64 = 1
    private var thread: OSThread?
    private var isLeader = false
    /// Called on the loop's thread when this member becomes leader (true, with the index of the
    /// last entry in its log at that moment: every entry of an earlier term is at or below it)
    /// or stops being leader (false). Set before `start`; it must return quickly.
    var onLeadership: (@Sendable (_ isLeader: Bool, _ lastIndex: UInt64) -> Void)?

    init(node: RawNode, log: RaftLogStore, tickNanoseconds: UInt64, apply: ApplyLoop, snapshotKeepEntries: UInt64,
         stages: StageLatencies, refused: @escaping @Sendable ([UInt64], Bool) -> Void, fatal: @escaping @Sendable (String) -> Void,
         onEvent: @escaping @Sendable (String, [(String, String)]) -> Void) {
        self.node = node
        self.log = log
        self.tickNanoseconds = tickNanoseconds
        self.apply = apply
        self.snapshotKeepEntries = snapshotKeepEntries
        self.stages = stages
        self.refused = refused
        self.fatal = fatal
        self.onEvent = onEvent
        state.term.store(node.term.rawValue, ordering: .relaxed)
        state.lastIndex.store(log.memory.lastIndex.rawValue, ordering: .relaxed)
    }

    func start(campaign: Bool) {
        thread = OSThread(name: "keel-raft") { [self] in
            if campaign { node.campaign() }
            run()
        }
    }

    /// Stops the loop after its current turn and waits for it.
    func stop() {
        mailbox.close()
        thread?.join()
        thread = nil
    }

    private func run() {
        var nextTick = MonotonicClock.nanoseconds() + tickNanoseconds
        while true {
            let (inputs, closed) = mailbox.take(waitingUntil: node.hasReady ? 0 : nextTick)
            if closed { return }
            handle(inputs)
            let now = MonotonicClock.nanoseconds()
            if now >= nextTick {
                node.tick()
                // After a long stall, tick once and start counting again rather than firing
                // a burst of ticks (that would expire the election timer at once).
                nextTick = max(nextTick + tickNanoseconds, now + tickNanoseconds / 2)
            }
            while node.hasReady { handleReady() }
        }
    }

    private func handle(_ inputs: [RaftInput]) {
        var proposals: [[UInt8]] = []
        var proposalIDs: [UInt64] = []
        var reads: [UInt64] = []
        let now = MonotonicClock.nanoseconds()
        for input in inputs {
            switch input {
            case .propose(let data, let id, let arrived):
                proposals.append(data)
                proposalIDs.append(id)
                stages.proposalWait.record(since: arrived, now: now)
            case .readIndex(let id): reads.append(id)
            case .snapshotTaken(let index, let term): recordSnapshot(index: index, term: term)
            case .transferLeader(let member): node.transferLeader(to: member)
            }
        }
        if !proposals.isEmpty, case .failure = node.propose(batch: proposals) {
            state.proposalsDropped.add(UInt64(proposalIDs.count), ordering: .relaxed)
            refused(proposalIDs, false)
        }
        if !reads.isEmpty {
            let context = nextReadContext
            nextReadContext += 1
            if case .failure = node.readIndex(context: Self.bytes(context)) {
                refused(reads, true)
            } else {
                readContexts[context] = reads
            }
        }
    }

    private func handleReady() {
        let ready = node.ready()
        if let soft = ready.softState {
            let previous = state.leader.exchange(soft.leader.rawValue, ordering: .relaxed)
            if previous != soft.leader.rawValue {
                if soft.leader != .none { state.leaderChanges.add(1, ordering: .relaxed) }
                onEvent("raft leader changed", [("leader", String(soft.leader.rawValue, radix: 16)), ("role", soft.role.rawValue)])
                // Reads waiting for a read index from a lost leadership never get one.
                if soft.role != .leader && !readContexts.isEmpty {
                    refused(readContexts.values.flatMap { $0 }, true)
                    readContexts.removeAll()
                }
            }
        }
        do throws(WALError) {
            if let ticket = try log.persist(ready) { lastTicket = ticket }
        } catch {
            fatal("failed to write the raft log: \(error)")
        }
        for message in ready.messages + ready.messagesAfterPersist {
            // A one-member cluster has nobody to send to; peers arrive with the peer transport.
            precondition(message.to == node.id, "no peer transport for a message to \(message.to)")
            _ = node.step(message)
        }
        if let hard = ready.hardState {
            state.term.store(hard.term.rawValue, ordering: .relaxed)
            state.commitIndex.store(hard.commit.rawValue, ordering: .relaxed)
        }
        state.lastIndex.store(log.memory.lastIndex.rawValue, ordering: .relaxed)
        if let soft = ready.softState, (soft.role == .leader) != isLeader {
            isLeader = soft.role == .leader
            onLeadership?(isLeader, log.memory.lastIndex.rawValue)
        }
        var reads: [(index: KeelRaft.LogIndex, ids: [UInt64])] = []
        for readState in ready.readStates {
            if let ids = readContexts.removeValue(forKey: Self.number(readState.context)) { reads.append((readState.index, ids)) }
        }
        if !ready.committedEntries.isEmpty || !reads.isEmpty {
            apply.submit(ApplyTask(ticket: lastTicket, entries: ready.committedEntries, reads: reads,
                                   handedOver: MonotonicClock.nanoseconds()))
        }
        node.advance(ready)
    }

    private func recordSnapshot(index: KeelRaft.LogIndex, term: KeelRaft.Term) {
        do throws(WALError) {
            let released = try log.recordSnapshot(index: index, term: term, keepEntries: snapshotKeepEntries)
            onEvent("saved snapshot", [("snapshot-index", String(index.rawValue)), ("released-wal-segments", String(released.count))])
        } catch {
            fatal("failed to record a snapshot in the raft log: \(error)")
        }
    }

    private static func bytes(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }

    private static func number(_ bytes: [UInt8]) -> UInt64 {
        guard bytes.count == 8 else { return 0 }
        return bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}

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
    /// Raft messages from peers, in the order one peer sent them (the peer transport's
    /// `deliver`).
    case step([Message])
    /// What the peer transport learned about a peer: it is unreachable, or how a snapshot to
    /// it ended.
    case peerReport(PeerReport)
    /// A membership change (MemberAdd/Remove/Update/Promote); `id` is its waiter, failed if
    /// raft refuses the proposal.
    case proposeConfChange(ConfChange, id: UInt64)
    /// Calls back with raft's status (the leader's progress of each member), on the loop's
    /// thread: it must return quickly.
    case status(@Sendable (Status) -> Void)
    /// A snapshot replaced the backend, and with it the stored membership: the raft loop's
    /// copy of the membership and the transport's peers follow it.
    case membershipInstalled(ClusterMembership)
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
///
/// With peers (``peers`` set), a Ready is handled as etcd's raft loop handles it: messages
/// that may leave before the write (appends from a leader) go to the transport first, so the
/// leader replicates while its own WAL write runs; then the loop waits until the Ready's
/// writes are durable before it sends `messagesAfterPersist` (votes and append answers
/// promise durable state) and before it steps any further message. That wait also keeps a
/// leader from counting a follower's acknowledgement toward a commit before its own copy of
/// the entry is durable. A one-member cluster never waits here: nobody else learns of an
/// entry, and the apply loop applies only what its WAL ticket made durable.
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
    private let onEvent: @Sendable (LogLevel, String, [(String, String)]) -> Void
    private var lastTicket: WAL.Ticket?
    /// The snapshot index last logged as not sent to each member, so a follower that needs a
    /// snapshot is reported once per snapshot rather than on every heartbeat.
    private var snapshotsRefused: [NodeID: KeelRaft.LogIndex] = [:]
    private var replication = ReplicationTimer()
    private var readContexts: [UInt64: [UInt64]] = [:]
    private var nextReadContext: UInt64 = 1
    private var thread: OSThread?
    /// Sending snapshots (leader) and receiving them (follower); nil: snapshots are refused.
    /// Set before `start`.
    var snapshots: RaftSnapshots?
    private var isLeader = false
    /// Called on the loop's thread when this member becomes leader (true, with the index of the
    /// last entry in its log at that moment: every entry of an earlier term is at or below it)
    /// or stops being leader (false). Set before `start`; it must return quickly.
    var onLeadership: (@Sendable (_ isLeader: Bool, _ lastIndex: UInt64) -> Void)?
    /// Carries messages to the other members; nil for a node without one (no event loop
    /// group). Set before `start`.
    var peers: PeerTransport?
    /// Applies committed membership changes to raft and the transport. Set before `start`.
    var membership: RaftMembership?
    /// Called on the loop's thread at every tick with the monotonic time (the node expires
    /// requests that waited past their deadline). Set before `start`; it must return quickly.
    var onTick: (@Sendable (_ now: UInt64) -> Void)?

    init(node: RawNode, log: RaftLogStore, tickNanoseconds: UInt64, apply: ApplyLoop, snapshotKeepEntries: UInt64,
         stages: StageLatencies, refused: @escaping @Sendable ([UInt64], Bool) -> Void, fatal: @escaping @Sendable (String) -> Void,
         onEvent: @escaping @Sendable (LogLevel, String, [(String, String)]) -> Void) {
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
            membership?.dropLeavers(now: now, peers: peers)
            if now >= nextTick {
                node.tick()
                onTick?(now)
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
            // A refused message (an answer from a member raft does not track) is dropped, as
            // a lost one would be.
            case .step(let messages):
                for message in messages {
                    for roundTrip in replication.received(message, now: now) { stages.replication.record(nanoseconds: roundTrip) }
                    if message.type == .snapshot {
                        if let saved = received(message) { _ = node.step(saved) }
                        continue
                    }
                    _ = node.step(message)
                }
            case .peerReport(.unreachable(let member)): node.reportUnreachable(member)
            case .peerReport(.snapshot(let member, let status)): node.reportSnapshot(member, status: status)
            // The node takes this one before the mailbox (KeelNode+Peers): raft has no use for it.
            case .peerReport(.removed): break
            case .proposeConfChange(let change, let id):
                if case .failure = node.proposeConfChange(change) { refused([id], false) }
            case .status(let reply): reply(node.status)
            case .membershipInstalled(let installed): membership?.reset(to: installed, peers: peers)
            }
        }
        if !proposals.isEmpty, case .failure = node.propose(batch: proposals) {
            state.proposalsDropped.add(UInt64(proposalIDs.count), ordering: .relaxed)
            refused(proposalIDs, false)
        }
        if !reads.isEmpty {
            let context = nextReadContext
            nextReadContext += 1
            // The leader queues the reads of every member together: the member id keeps this
            // member's contexts apart from the others'.
            if case .failure = node.readIndex(context: Self.bytes(node.id.rawValue) + Self.bytes(context)) {
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
                onEvent(.info, "raft leader changed", [("leader", String(soft.leader.rawValue, radix: 16)), ("role", soft.role.rawValue)])
                // Reads waiting for a read index from a lost leadership never get one.
                if soft.role != .leader && !readContexts.isEmpty {
                    refused(readContexts.values.flatMap { $0 }, true)
                    readContexts.removeAll()
                }
            }
        }
        // A member alone (started alone, not grown yet) runs the one-member path: nobody else
        // learns of an entry, so nothing waits for the disk here.
        let peers = membership?.hasOtherMembers == false ? nil : self.peers
        if let peers { send(ready.messages.filter { $0.to != node.id }, through: peers) }
        do throws(WALError) {
            let ticket = try log.persist(ready)
            if let ticket { lastTicket = ticket }
            // What leaves only once the disk has this Ready (acknowledgements and votes) waits
            // for it. A leader's Ready has none (raft counts the leader's own log at append,
            // and the apply loop waits for the ticket before applying), so the leader keeps
            // taking proposals and acknowledgements while its fdatasync runs.
            if peers != nil, let ticket, ready.mustSync, !ready.messagesAfterPersist.isEmpty {
                try log.wal.wait(for: ticket)
            }
        } catch {
            fatal("failed to write the raft log: \(error)")
        }
        if let snapshot = ready.snapshot {
            // Installed before this Ready's committed entries (queued after it) are applied.
            apply.submit(ApplyTask(ticket: lastTicket, snapshot: snapshot.metadata.index, entries: [], reads: [],
                                   handedOver: MonotonicClock.nanoseconds()))
        }
        for message in ready.messages + ready.messagesAfterPersist where message.to == node.id {
            _ = node.step(message)
        }
        if let peers {
            send(ready.messagesAfterPersist.filter { $0.to != node.id }, through: peers)
        } else {
            precondition(ready.allMessages.allSatisfy { $0.to == node.id }, "a one-member cluster has nobody to send to")
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
        if let membership, ready.committedEntries.contains(where: { $0.kind == .confChange }) {
            membership.committed(ready.committedEntries, node: node, log: log, peers: self.peers, onEvent: onEvent)
        }
        if !ready.committedEntries.isEmpty || !reads.isEmpty {
            apply.submit(ApplyTask(ticket: lastTicket, entries: ready.committedEntries, reads: reads,
                                   handedOver: MonotonicClock.nanoseconds()))
        }
        node.advance(ready)
    }

    /// Hands `messages` to the transport; snapshots go to ``snapshots`` first, which sends each
    /// once its copy of the B+tree is made (raft hears how it ended through a peer report).
    /// Without it a follower that needs a snapshot is logged and raft is told the snapshot
    /// failed (it retries later and keeps the follower probing).
    private func send(_ messages: [Message], through peers: PeerTransport) {
        let now = MonotonicClock.nanoseconds()
        for message in messages { replication.sent(message, now: now) }
        guard messages.contains(where: { $0.type == .snapshot }) else { return peers.send(messages) }
        peers.send(messages.filter { $0.type != .snapshot })
        for message in messages where message.type == .snapshot {
            if let snapshots {
                if !snapshots.send(message, through: peers) { node.reportSnapshot(message.to, status: .failed) }
                continue
            }
            let index = message.snapshot?.metadata.index ?? .zero
            if snapshotsRefused.updateValue(index, forKey: message.to) != index {
                onEvent(.warn, "member needs a snapshot to catch up, but this member has no snapshot sender",
                        [("to", String(message.to.rawValue, radix: 16)), ("snapshot-index", String(index.rawValue))])
            }
            node.reportSnapshot(message.to, status: .failed)
        }
    }

    /// A snapshot message from the leader, its database saved (``RaftSnapshots/receive(_:)``)
    /// before raft sees it, and its data dropped (the database travels as a file); nil
    /// (dropped, as a lost message would be: the leader sends it again) when snapshots are not
    /// taken or the data is not a sound database.
    private func received(_ message: Message) -> Message? {
        guard let snapshots, var snapshot = message.snapshot else { return nil }
        if snapshot.metadata.index.rawValue <= state.commitIndex.load(ordering: .relaxed) {
            // Raft answers it without installing anything: it has everything through it.
            var stripped = message
            snapshot.data = []
            stripped.snapshot = snapshot
            return stripped
        }
        return snapshots.receive(message)
    }

    private func recordSnapshot(index: KeelRaft.LogIndex, term: KeelRaft.Term) {
        do throws(WALError) {
            let released = try log.recordSnapshot(index: index, term: term, keepEntries: snapshotKeepEntries)
            onEvent(.info, "saved snapshot", [("snapshot-index", String(index.rawValue)), ("released-wal-segments", String(released.count))])
        } catch {
            fatal("failed to record a snapshot in the raft log: \(error)")
        }
    }

    private static func bytes(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }

    /// The counter of a read context (its last 8 bytes, after the member id).
    private static func number(_ bytes: [UInt8]) -> UInt64 {
        guard bytes.count == 16 else { return 0 }
        return bytes[8...].reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}

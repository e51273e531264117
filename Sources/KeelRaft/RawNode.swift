/// The application's handle on one raft node: feed it ticks, messages and requests; collect
/// a ``Ready``, do what it says, ``advance(_:)``; repeat. Not thread-safe: one thread (or a
/// simulator) drives it.
///
/// Requests return a ``RaftRefusal`` when raft does not take them: a refused proposal is
/// never in the log, so the caller must retry or fail it. An accepted one may still be lost
/// if leadership changes before it commits; callers detect that by timing out.
public final class RawNode {
    let raft: Raft
    /// What the previous Ready reported, to hand out only changes.
    var previousSoftState: SoftState
    var previousHardState: HardState
    /// A Ready handed out and not yet advanced.
    var readyOutstanding = false

    /// Starts a node from `storage` (its hard state, membership and log).
    public init(config: Config, storage: RaftStorage) {
        raft = Raft(config: config, storage: storage)
        previousSoftState = raft.softState
        previousHardState = raft.hardState
    }

    public var id: NodeID { raft.id }

    /// Advances the logical clock by one tick (election and heartbeat timeouts count ticks).
    public func tick() { raft.tick() }

    /// Starts an election now (with a pre-vote first if configured).
    public func campaign() {
        _ = raft.step(Message(type: .hup, from: raft.id))
    }

    /// Feeds a message from a peer. Refuses local message types, and answers from members
    /// this node does not track (a removed node, or one not yet added).
    public func step(_ message: Message) -> Result<Void, RaftRefusal> {
        if message.type.isLocal { return .failure(.stepLocalMessage(message.type)) }
        if message.type.isResponse && raft.tracker[message.from] == nil {
            return .failure(.peerNotFound(message.from))
        }
        return raft.step(message)
    }

    /// Proposes `data` as one normal entry. On a follower the proposal is forwarded to the
    /// leader (and may be lost there like any message).
    public func propose(_ data: [UInt8]) -> Result<Void, RaftRefusal> {
        propose(batch: [data])
    }

    /// Proposes several entries at once; they are appended together or refused together.
    public func propose(batch: [[UInt8]]) -> Result<Void, RaftRefusal> {
        precondition(!batch.isEmpty, "an empty proposal")
        let entries = batch.map { Entry(term: .zero, index: .zero, data: $0) }
        return raft.step(Message(type: .propose, from: raft.id, entries: entries))
    }

    /// Proposes a membership change. It takes effect when the application applies its entry
    /// and calls ``applyConfChange(_:)``. Refused while another change is pending.
    public func proposeConfChange(_ change: ConfChange) -> Result<Void, RaftRefusal> {
        let entry = Entry(term: .zero, index: .zero, kind: .confChange, data: change.encoded())
        return raft.step(Message(type: .propose, from: raft.id, entries: [entry]))
    }

    /// Applies a committed conf change to raft's membership; returns the membership now in
    /// force (to persist with the next snapshot).
    public func applyConfChange(_ change: ConfChange) -> ConfState {
        raft.applyConfChange(change)
    }

    /// Asks for a linearizable read point. The answer arrives as a ``ReadState`` carrying
    /// `context` in a later Ready, once the leader confirmed with a quorum that it still leads
    /// (one heartbeat round answers every read waiting at that moment). `context` must be
    /// unique among reads in flight. Reads waiting when leadership changes are dropped:
    /// the caller times out and retries.
    public func readIndex(context: [UInt8]) -> Result<Void, RaftRefusal> {
        raft.step(Message(type: .readIndex, from: raft.id, context: context))
    }

    /// Asks the leader to hand leadership to `transferee` (a voter); forwarded by followers.
    public func transferLeader(to transferee: NodeID) {
        _ = raft.step(Message(type: .transferLeader, from: transferee))
    }

    /// Tells the leader the transport could not deliver to `member`.
    public func reportUnreachable(_ member: NodeID) {
        _ = raft.step(Message(type: .unreachable, from: member))
    }

    /// How sending a snapshot ended.
    public enum SnapshotStatus: Sendable { case finished, failed }

    /// Tells the leader whether the snapshot it asked to send to `member` arrived. The
    /// transport must call this for every snapshot message: the leader sends nothing else to
    /// that member until told (or until the member's answer arrives).
    public func reportSnapshot(_ member: NodeID, status: SnapshotStatus) {
        _ = raft.step(Message(type: .snapshotStatus, from: member, reject: status == .failed))
    }

    /// Messages dropped so far because a Ready's message queue was full.
    public var droppedMessageCount: UInt64 { raft.droppedMessageCount }
}

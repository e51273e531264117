/// Everything the application must do after raft ran: persist, send, apply. Handle one Ready
/// completely, in this order, then call ``RawNode/advance(_:)`` before asking for the next:
///
/// 1. Send `messages` (may overlap with step 2: a leader replicates while it writes).
/// 2. Persist `snapshot`, then `entries` (replacing any stored entries from the first one's
///    index on), then `hardState`; fsync if `mustSync`.
/// 3. Send `messagesAfterPersist` (they promise what step 2 made durable).
/// 4. Install `snapshot` in the state machine, then apply `committedEntries` in order
///    (calling ``RawNode/applyConfChange(_:)`` for conf changes); serve `readStates` once
///    applied through their index.
public struct Ready: Sendable {
    /// New leader or role, when they changed since the previous Ready.
    public var softState: SoftState?
    /// Term, vote or commit, when they changed since the previous Ready.
    public var hardState: HardState?
    /// Log entries to persist; they may replace stored entries from their first index on.
    public var entries: [Entry]
    /// A snapshot to persist and install, received from the leader.
    public var snapshot: Snapshot?
    /// Committed entries to apply, in order; may include some of `entries` (persist first).
    public var committedEntries: [Entry]
    /// Messages that may be sent before this Ready's writes are durable.
    public var messages: [Message]
    /// Messages to send only after this Ready's writes are durable.
    public var messagesAfterPersist: [Message]
    /// Answers to read-index requests.
    public var readStates: [ReadState]
    /// Whether the writes need an fsync: a new term, vote, entries or a snapshot. A commit
    /// index alone does not (it can be recovered from a quorum).
    public var mustSync: Bool

    /// Whether the Ready asks for nothing.
    public var isEmpty: Bool {
        softState == nil && hardState == nil && entries.isEmpty && snapshot == nil && committedEntries.isEmpty
            && messages.isEmpty && messagesAfterPersist.isEmpty && readStates.isEmpty
    }

    /// Both message lists, for a caller that sends everything after persisting.
    public var allMessages: [Message] { messages + messagesAfterPersist }
}

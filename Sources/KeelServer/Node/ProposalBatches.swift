import NIOCore
import NIOPosix

/// Gathers the proposals an event loop makes during one turn after the first and hands them
/// to the raft loop in one post when the turn's tasks run, after every readable connection of
/// the turn was read. Posted one by one, a burst of requests woke the raft loop several times,
/// and each wake-up of a thread sleeping on another core costs both cores time; as one batch
/// they cost one wake-up and go into one Ready. The first is posted at once, so a lone
/// request (one client writing in turn) waits for nothing: holding it to the turn's end cost
/// one client 16% of its puts per second (ABBA, 4 quads), while giving 100 clients about 9%
/// more than this does (5 quads).
///
/// Each event loop thread has its own batch (thread-specific), so gathering takes no lock; the
/// batch is set when a turn's first proposal comes and cleared when it is posted, so no thread
/// keeps anything of a node between turns. Called off an event loop, `add` posts at once.
final class ProposalBatches: Sendable {
    /// One event loop's proposals waiting for the end of its turn. Touched only on that loop's
    /// thread.
    private final class Batch: @unchecked Sendable {
        var inputs: [RaftInput] = []
        var ids: [UInt64] = []
    }

    private let batches = ThreadSpecificVariable<Batch>()
    private let mailbox: Mailbox<RaftInput>
    /// Called with the ids of proposals the raft loop no longer takes (it stopped).
    private let refused: @Sendable ([UInt64]) -> Void

    init(mailbox: Mailbox<RaftInput>, refused: @escaping @Sendable ([UInt64]) -> Void) {
        self.mailbox = mailbox
        self.refused = refused
    }

    /// Queues `input` (the proposal with waiter `id`) for the raft loop: at the end of the
    /// current turn of `eventLoop` when called on it after the turn's first, at once otherwise.
    func add(_ input: RaftInput, id: UInt64, on eventLoop: any EventLoop) {
        guard eventLoop.inEventLoop else {
            if !mailbox.post(input) { refused([id]) }
            return
        }
        if let batch = batches.currentValue {
            batch.inputs.append(input)
            batch.ids.append(id)
            return
        }
        // The turn's first proposal goes at once: a lone request does not wait for the rest
        // of the turn. Those after it wait for the turn's end.
        if !mailbox.post(input) { refused([id]) }
        let batch = Batch()
        batches.currentValue = batch
        // Run on this thread, after the turn's reads.
        eventLoop.execute { [self] in
            batches.currentValue = nil
            if !batch.inputs.isEmpty, !mailbox.post(contentsOf: batch.inputs) { refused(batch.ids) }
        }
    }
}

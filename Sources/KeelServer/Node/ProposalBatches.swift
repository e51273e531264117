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
    }

    private let batches = ThreadSpecificVariable<Batch>()
    private let mailbox: Mailbox<RaftInput>
    /// Called with the ids of proposals the raft loop no longer takes (it stopped).
    private let refused: @Sendable ([UInt64]) -> Void

    init(mailbox: Mailbox<RaftInput>, refused: @escaping @Sendable ([UInt64]) -> Void) {
        self.mailbox = mailbox
        self.refused = refused
    }

    /// Queues the proposal `data` with waiter `id` (`arrived`: when the node took it) for the
    /// raft loop: at the end of the current turn of `eventLoop` when called on it after the
    /// turn's first, at once otherwise.
    func add(_ data: [UInt8], id: UInt64, arrived: UInt64, on eventLoop: any EventLoop) {
        let input = RaftInput.propose(data: data, id: id, arrived: arrived)
        if eventLoop.inEventLoop {
            if let batch = batches.currentValue {
                batch.inputs.append(input)
                return
            }
            // The turn's first proposal goes at once (below): a lone request does not wait
            // for the rest of the turn. Those after it wait for the turn's end.
            let batch = Batch()
            batches.currentValue = batch
            // Run on this thread, after the turn's reads.
            eventLoop.execute { [self] in
                batches.currentValue = nil
                if !batch.inputs.isEmpty, !mailbox.post(contentsOf: batch.inputs) { refused(Self.ids(batch.inputs)) }
            }
        }
        if !mailbox.post(input) { refused([id]) }
    }

    /// The waiter ids of the proposals among `inputs`.
    static func ids(_ inputs: [RaftInput]) -> [UInt64] {
        inputs.compactMap { input in
            guard case .propose(_, let id, _) = input else { return nil }
            return id
        }
    }
}

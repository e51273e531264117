import NIOCore
import NIOPosix

/// Gathers the proposals an event loop makes during one turn and hands them to the raft loop
/// in one post when the turn's tasks run, after every readable connection of the turn was
/// read. Posted one by one, a burst of requests woke the raft loop several times, and each
/// wake-up of a thread sleeping on another core costs both cores time; as one batch they
/// cost one wake-up and go into one Ready.
///
/// Each event loop thread has its own batch (thread-specific), so gathering takes no lock.
/// Called off an event loop, `add` posts at once.
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
    /// current turn of `eventLoop` when called on it, at once otherwise.
    func add(_ input: RaftInput, id: UInt64, on eventLoop: any EventLoop) {
        guard eventLoop.inEventLoop else {
            if !mailbox.post(input) { refused([id]) }
            return
        }
        let batch: Batch
        if let current = batches.currentValue {
            batch = current
        } else {
            batch = Batch()
            batches.currentValue = batch
        }
        batch.inputs.append(input)
        batch.ids.append(id)
        guard batch.inputs.count == 1 else { return }
        eventLoop.execute { [self] in
            let inputs = batch.inputs
            let ids = batch.ids
            batch.inputs.removeAll(keepingCapacity: true)
            batch.ids.removeAll(keepingCapacity: true)
            if !mailbox.post(contentsOf: inputs) { refused(ids) }
        }
    }
}

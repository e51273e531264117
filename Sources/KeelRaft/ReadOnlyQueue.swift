/// Read-index requests a leader has stamped with its commit index and is confirming with a
/// heartbeat round, in arrival order. A request is answered once a quorum acknowledged a
/// heartbeat carrying its context (or a later one's: answers are in order).
struct ReadOnlyQueue {
    struct Pending {
        /// The original request (its `from` is whom to answer).
        var request: Message
        /// The commit index when the request arrived: the read index.
        var index: LogIndex
        var acks: Set<NodeID>
    }

    /// Keyed by the request's context, which the caller keeps unique among waiting reads.
    private var pending: [[UInt8]: Pending] = [:]
    private var queue: [[UInt8]] = []

    var count: Int { queue.count }

    mutating func add(index: LogIndex, request: Message) {
        let key = request.context
        guard pending[key] == nil else { return }
        pending[key] = Pending(request: request, index: index, acks: [])
        queue.append(key)
    }

    /// Records `from`'s heartbeat answer for `context`; returns who acknowledged it so far
    /// (nil for an unknown context).
    mutating func ack(from: NodeID, context: [UInt8]) -> Set<NodeID>? {
        guard pending[context] != nil else { return nil }
        pending[context]!.acks.insert(from)
        return pending[context]!.acks
    }

    /// Removes and returns the requests through `context`, oldest first: a quorum confirmed
    /// leadership after all of them arrived.
    mutating func release(through context: [UInt8]) -> [Pending] {
        guard let position = queue.firstIndex(of: context) else { return [] }
        let released = queue[...position].map { pending.removeValue(forKey: $0)! }
        queue.removeFirst(position + 1)
        return released
    }
}

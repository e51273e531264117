import Synchronization

/// The requests waiting for their raft entry to be applied, by request id. A waiter is
/// completed exactly once: by the apply loop, or by whoever removes it first (a timeout, a
/// refused proposal, the node stopping).
final class Waiters<Outcome: Sendable>: Sendable {
    typealias Completion = @Sendable (Outcome) -> Void
    private let waiting = Mutex<[UInt64: Completion]>([:])

    func register(_ id: UInt64, _ completion: @escaping Completion) {
        waiting.withLock { waiting in
            precondition(waiting.updateValue(completion, forKey: id) == nil, "request id \(id) registered twice")
        }
    }

    /// Completes the waiter for `id` with `outcome` if it is still waiting; false if not
    /// (it timed out, or the entry came from another member or from before a restart).
    @discardableResult
    func complete(_ id: UInt64, with outcome: Outcome) -> Bool {
        guard let completion = waiting.withLock({ $0.removeValue(forKey: id) }) else { return false }
        completion(outcome)
        return true
    }

    /// Completes every waiter with `outcome` (the node is stopping).
    func completeAll(with outcome: Outcome) {
        let all = waiting.withLock { waiting in
            defer { waiting.removeAll() }
            return Array(waiting.values)
        }
        for completion in all { completion(outcome) }
    }

    var count: Int { waiting.withLock { $0.count } }
}

/// Request ids unique across the cluster's members and across restarts, laid out as etcd's
/// are: the member id's low 16 bits, then 40 bits of the start time in milliseconds, then a
/// counter (which may carry into the time bits: ids only need to be unique, not readable).
final class RequestIDGenerator: Sendable {
    private let next: Atomic<UInt64>

    init(memberID: UInt64, unixMilliseconds: UInt64) {
        let prefix = (memberID & 0xFFFF) << 48
        let time = (unixMilliseconds & 0xFF_FFFF_FFFF) << 8
        next = Atomic(prefix | time)
    }

    func make() -> UInt64 { next.add(1, ordering: .relaxed).newValue }
}

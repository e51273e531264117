import NIOCore
import Synchronization

/// The requests waiting for their raft entry to be applied, by request id. A waiter is
/// completed exactly once: by the apply loop, or by whoever removes it first (its deadline
/// passing, a refused proposal, the node stopping).
///
/// Deadlines are kept here and checked by `expire`, which the raft loop calls at every tick,
/// rather than by a timer per request: scheduling and cancelling an event-loop task for each
/// of thousands of requests a second was a measurable part of a put's CPU. A request
/// therefore times out up to one tick (the heartbeat interval) after its deadline.
final class Waiters<Outcome: Sendable>: Sendable {
    typealias Completion = @Sendable (Outcome) -> Void
    private struct Entry {
        let deadline: UInt64
        /// Where the completion runs; nil: on the completing thread.
        let eventLoop: (any EventLoop)?
        let completion: Completion
    }
    private let waiting = Mutex<[UInt64: Entry]>([:])
    /// What a waiter whose deadline passed is completed with.
    private let timedOut: Outcome

    init(timedOut: Outcome) {
        self.timedOut = timedOut
    }

    /// Registers the waiter for `id`; `expire` completes it with the timed-out outcome once
    /// the monotonic clock passes `deadline` (nanoseconds, `MonotonicClock`). With
    /// `eventLoop`, the completion runs there, whoever completes it.
    func register(_ id: UInt64, deadline: UInt64, on eventLoop: (any EventLoop)? = nil, _ completion: @escaping Completion) {
        let entry = Entry(deadline: deadline, eventLoop: eventLoop, completion: completion)
        waiting.withLock { waiting in
            precondition(waiting.updateValue(entry, forKey: id) == nil, "request id \(id) registered twice")
        }
    }

    /// Completes the waiters of a batch of answers: those registered with an event loop in one
    /// task per loop (a group commit answers hundreds of requests, and a task each meant a
    /// queue operation, and often a wake-up, per request), the others here. Ids nobody waits
    /// for are skipped.
    func complete(_ answers: [(id: UInt64, outcome: Outcome)]) {
        guard !answers.isEmpty else { return }
        let found = waiting.withLock { waiting in
            answers.compactMap { answer in waiting.removeValue(forKey: answer.id).map { ($0, answer.outcome) } }
        }
        var byLoop: [(loop: any EventLoop, answers: [(Completion, Outcome)])] = []
        for (entry, outcome) in found {
            guard let loop = entry.eventLoop else {
                entry.completion(outcome)
                continue
            }
            if let index = byLoop.firstIndex(where: { $0.loop === loop }) {
                byLoop[index].answers.append((entry.completion, outcome))
            } else {
                byLoop.append((loop, [(entry.completion, outcome)]))
            }
        }
        for (loop, answers) in byLoop {
            loop.execute { for (completion, outcome) in answers { completion(outcome) } }
        }
    }

    /// Completes the waiter for `id` with `outcome` if it is still waiting; false if not
    /// (it timed out, or the entry came from another member or from before a restart).
    @discardableResult
    func complete(_ id: UInt64, with outcome: Outcome) -> Bool {
        guard let entry = waiting.withLock({ $0.removeValue(forKey: id) }) else { return false }
        Self.run(entry, outcome)
        return true
    }

    /// Completes, with the timed-out outcome, every waiter whose deadline is at or before
    /// `now`, oldest request first.
    func expire(now: UInt64) {
        let expired = waiting.withLock { waiting -> [Entry] in
            guard waiting.values.contains(where: { $0.deadline <= now }) else { return [] }
            let ids = waiting.filter { $0.value.deadline <= now }.keys.sorted()
            return ids.map { waiting.removeValue(forKey: $0)! }
        }
        for entry in expired { Self.run(entry, timedOut) }
    }

    /// Completes every waiter with `outcome` (the node is stopping).
    func completeAll(with outcome: Outcome) {
        let all = waiting.withLock { waiting in
            defer { waiting.removeAll() }
            return waiting.sorted { $0.key < $1.key }.map(\.value)
        }
        for entry in all { Self.run(entry, outcome) }
    }

    /// Runs one waiter's completion on its event loop, or here when it has none or this is it.
    private static func run(_ entry: Entry, _ outcome: Outcome) {
        if let loop = entry.eventLoop, !loop.inEventLoop {
            let completion = entry.completion
            loop.execute { completion(outcome) }
        } else {
            entry.completion(outcome)
        }
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

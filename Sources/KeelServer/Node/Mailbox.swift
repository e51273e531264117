#if canImport(Glibc)
import Glibc
#endif
import KeelIO

/// A queue that one loop thread drains and any thread posts to: the raft loop's and the apply
/// loop's inputs. The loop takes everything queued at once (so proposals that arrived during
/// one Ready go into the next as one batch) and sleeps, up to a deadline, while nothing is.
final class Mailbox<Item>: @unchecked Sendable {
    // Sendable: `items` and `closed` are only touched with `mutex` held.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [Item] = []
    private var closed = false

    init() {
        precondition(pthread_mutex_init(mutex, nil) == 0)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // Deadlines are on the monotonic clock: a wall-clock step must not stall the ticks.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        precondition(pthread_cond_init(condition, &attributes) == 0)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Queues `item`; false once the mailbox is closed (the item is dropped).
    @discardableResult
    func post(_ item: Item) -> Bool {
        post(contentsOf: CollectionOfOne(item))
    }

    /// Queues `batch` in order, with at most one wake-up; false once the mailbox is closed
    /// (the items are dropped).
    @discardableResult
    func post(contentsOf batch: some Collection<Item>) -> Bool {
        pthread_mutex_lock(mutex)
        guard !closed else {
            pthread_mutex_unlock(mutex)
            return false
        }
        let wake = items.isEmpty && !batch.isEmpty
        items.append(contentsOf: batch)
        pthread_mutex_unlock(mutex)
        // Signalled after the unlock: a loop woken while the poster still held the mutex went
        // straight back to sleep on it, a second switch and a second wake-up per post.
        if wake { pthread_cond_signal(condition) }
        return true
    }

    /// Everything queued, waiting while nothing is until `deadline` (monotonic nanoseconds;
    /// nil: no deadline) passes or the mailbox closes. Empty on a deadline or when closed.
    func take(waitingUntil deadline: UInt64?) -> (items: [Item], closed: Bool) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while items.isEmpty && !closed {
            guard let deadline else {
                pthread_cond_wait(condition, mutex)
                continue
            }
            if MonotonicClock.nanoseconds() >= deadline { break }
            var until = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
            pthread_cond_timedwait(condition, mutex, &until)
        }
        let taken = items
        items.removeAll(keepingCapacity: true)
        return (taken, closed)
    }

    /// Wakes the loop for the last time: later posts are dropped, `take` returns `closed`.
    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}

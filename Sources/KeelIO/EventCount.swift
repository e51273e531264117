import CFutex
import Synchronization

/// A set of event words that threads wait on without a mutex: a waiter reads a word, checks
/// its condition, and sleeps only if the word has not moved since. Used by the WAL so that
/// appenders waiting for durability never contend for the lock that appends take.
public final class EventCount: @unchecked Sendable {
    private let words: UnsafeMutablePointer<UInt32>
    public let count: Int

    public init(words count: Int) {
        precondition(count >= 1 && count <= 64)
        self.count = count
        words = .allocate(capacity: count)
        words.initialize(repeating: 0, count: count)
    }

    deinit { words.deallocate() }

    /// Waits on word `word` until `isDone()` holds. `isDone` is re-evaluated after every
    /// wake-up; whoever makes it true calls `notifyAll(word)` afterwards.
    @inline(__always)
    public func wait(on word: Int, until isDone: () -> Bool) {
        precondition(word >= 0 && word < count)
        while true {
            let seen = keel_event_read(words + word)
            if isDone() { return }
            keel_event_wait(words + word, seen)
        }
    }

    /// Wakes every thread waiting on `word`.
    public func notifyAll(_ word: Int) {
        precondition(word >= 0 && word < count)
        keel_event_notify_all(words + word)
    }
}

/// An eventfd: a counter one thread signals and another waits on — here the WAL writer,
/// through its io_uring, while it also waits for the disk.
public final class EventSignal: @unchecked Sendable {
    public let descriptor: Int32

    public init() throws(IOError) {
        let fd = keel_eventfd_create()
        guard fd >= 0 else { throw IOError(operation: "eventfd", errno: Errno(rawValue: -fd), path: "") }
        descriptor = fd
    }

    deinit { Syscalls.close(descriptor) }

    /// Wakes the reader (adds 1 to the counter).
    public func signal() {
        let rc = keel_eventfd_signal(descriptor)
        precondition(rc == 0, "eventfd write failed: \(Errno(rawValue: -rc))")
    }
}

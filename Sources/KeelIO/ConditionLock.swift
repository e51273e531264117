#if canImport(Glibc)
import Glibc
#endif

/// A mutex with a few condition variables (pthread), for the places where threads wait for
/// each other: the WAL's appenders and its writer. Separate conditions keep one kind of
/// waiter from waking the others. Waits have no timeout by design; every waiter is woken by
/// state the lock protects.
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let conditions: UnsafeMutablePointer<pthread_cond_t>
    public let conditionCount: Int

    public init(conditions count: Int = 1) {
        precondition(count >= 1 && count <= 8)
        conditionCount = count
        conditions = .allocate(capacity: count)
        precondition(pthread_mutex_init(mutex, nil) == 0)
        for i in 0..<count { precondition(pthread_cond_init(conditions + i, nil) == 0) }
    }

    deinit {
        for i in 0..<conditionCount { pthread_cond_destroy(conditions + i) }
        pthread_mutex_destroy(mutex)
        conditions.deallocate()
        mutex.deallocate()
    }

    public func lock() { precondition(pthread_mutex_lock(mutex) == 0) }
    public func unlock() { precondition(pthread_mutex_unlock(mutex) == 0) }

    /// Releases the lock while waiting; holds it again on return. Spurious wake-ups happen:
    /// callers loop on their condition.
    public func wait(_ condition: Int = 0) {
        precondition(condition < conditionCount)
        precondition(pthread_cond_wait(conditions + condition, mutex) == 0)
    }

    public func broadcast(_ condition: Int = 0) { pthread_cond_broadcast(conditions + condition) }
    public func signal(_ condition: Int = 0) { pthread_cond_signal(conditions + condition) }

    @inline(__always)
    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A joinable OS thread running one closure: the engines' loops (the WAL writer, later the
/// raft loop) each own one, so that their work never waits behind a shared pool.
public final class OSThread: @unchecked Sendable {
    private var handle = pthread_t()
    private var joined = false

    private final class Start {
        let body: () -> Void
        init(body: @escaping () -> Void) { self.body = body }
    }

    /// Starts the thread. `name` is for debuggers, `perf` and `/proc/<pid>/task/*/comm`
    /// (the kernel keeps its first 15 bytes) and error messages.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let threadName = String(name.utf8.prefix(15))!
        let start = Unmanaged.passRetained(Start(body: {
            OSThread.nameCurrentThread(threadName)
            body()
        })).toOpaque()
        let rc = pthread_create(&handle, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            start.body()
            return nil
        }, start)
        precondition(rc == 0, "pthread_create for \(name) failed: \(rc)")
    }

    /// Names the calling thread through /proc (Glibc's `pthread_setname_np` is not visible to
    /// Swift); a failure leaves the inherited name, which only tools see.
    private static func nameCurrentThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = name.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }

    /// Waits for the closure to return. Call once, from one thread.
    public func join() {
        precondition(!joined, "thread joined twice")
        joined = true
        precondition(pthread_join(handle, nil) == 0)
    }

    /// A thread dropped without a join is detached.
    deinit { if !joined { pthread_detach(handle) } }
}

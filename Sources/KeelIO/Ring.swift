import CURing
#if canImport(Glibc)
import Glibc
#endif

/// An io_uring instance: the kernel queues Keel submits writes and fdatasyncs through.
///
/// Completions are reaped into slots the caller owns (`user_data` is a slot index, never a
/// pointer), so no operation allocates. One thread uses a ring at a time: the WAL's writer.
public struct Ring: ~Copyable {
    private let ring: OpaquePointer
    /// The file the ring writes to, for error messages.
    public let path: String

    /// Sets up a ring of `entries` submission slots. Throws with the kernel's errno where
    /// io_uring is unavailable (ENOSYS on old kernels, EPERM where a sandbox forbids it).
    public init(entries: UInt32 = 8, path: String) throws(IOError) {
        precondition(entries >= 2 && entries <= 4096, "ring entries out of range")
        var error: Int32 = 0
        guard let ring = keel_ring_create(entries, &error) else {
            throw IOError(operation: "io_uring_setup", errno: Errno(rawValue: -error), path: path)
        }
        self.ring = ring
        self.path = path
    }

    deinit { keel_ring_destroy(ring) }

    /// Whether this kernel and sandbox let the process set up an io_uring; probed once.
    public static var isUsable: Bool { probe == nil }

    /// nil when io_uring works here, else the errno io_uring_setup failed with.
    public static let probe: Errno? = {
        var error: Int32 = 0
        guard let ring = keel_ring_create(2, &error) else { return Errno(rawValue: -error) }
        keel_ring_destroy(ring)
        return nil
    }()

    // MARK: Submission

    /// Queues a write of `buffer` at `offset`; its completion lands in slot `slot`. With
    /// `linkNext` the next queued operation starts only after this one completes in full
    /// (a short write cancels it with ECANCELED).
    public mutating func prepareWrite(fd: Int32, _ buffer: UnsafeRawBufferPointer, offset: Int64, slot: Int, linkNext: Bool) {
        precondition(slot >= 0 && buffer.count <= Int(UInt32.max))
        let rc = keel_ring_prep_write(ring, fd, buffer.baseAddress, UInt32(buffer.count), UInt64(offset), UInt64(slot), linkNext ? 1 : 0)
        precondition(rc == 0, "io_uring submission queue full")
    }

    /// Queues a vectored write; the iovec array must stay valid until the completion is reaped.
    public mutating func prepareWritev(fd: Int32, _ vectors: UnsafeBufferPointer<iovec>, offset: Int64, slot: Int, linkNext: Bool) {
        precondition(slot >= 0)
        let rc = keel_ring_prep_writev(ring, fd, vectors.baseAddress, UInt32(vectors.count), UInt64(offset), UInt64(slot), linkNext ? 1 : 0)
        precondition(rc == 0, "io_uring submission queue full")
    }

    /// Queues an fdatasync of the whole file.
    public mutating func prepareDatasync(fd: Int32, slot: Int) {
        precondition(slot >= 0)
        let rc = keel_ring_prep_fdatasync(ring, fd, UInt64(slot), 0)
        precondition(rc == 0, "io_uring submission queue full")
    }

    /// Submits everything queued without waiting for any of it.
    public mutating func submit() throws(IOError) {
        var submitted = keel_ring_submit(ring)
        while submitted == -EINTR || submitted == -EAGAIN { submitted = keel_ring_submit(ring) }
        if submitted < 0 { throw IOError(operation: "io_uring_submit", errno: Errno(rawValue: -submitted), path: path) }
    }

    /// Blocks until `count` completions have been reaped; each completion's result (bytes or
    /// -errno) is stored in `slots[user_data]`.
    public mutating func reap(_ count: Int, into slots: UnsafeMutableBufferPointer<Int32>) throws(IOError) {
        var reaped = 0
        while reaped < count {
            var slot: UInt64 = 0
            var result: Int32 = 0
            let rc = keel_ring_wait(ring, &slot, &result)
            if rc == -EINTR || rc == -EAGAIN { continue }
            if rc < 0 { throw IOError(operation: "io_uring_wait_cqe", errno: Errno(rawValue: -rc), path: path) }
            precondition(slot < UInt64(slots.count), "completion for a slot the caller does not own")
            slots[Int(slot)] = result
            reaped += 1
        }
    }

    /// `submit()` then `reap(count, into:)`.
    public mutating func submitAndWait(_ count: Int, into slots: UnsafeMutableBufferPointer<Int32>) throws(IOError) {
        try submit()
        try reap(count, into: slots)
    }

    // MARK: Durable write

    /// Starts writing all of `buffer` at `offset` followed by an fdatasync: a write linked to
    /// an fdatasync, submitted together, without waiting. `completeWriteAndSync` with the same
    /// arguments and slots finishes it; `buffer` must stay untouched until then. Slots 0 and 1
    /// of `slots` receive the two completions.
    public mutating func beginWriteAndSync(fd: Int32, _ buffer: UnsafeRawBufferPointer, offset: Int64,
                                           slots: UnsafeMutableBufferPointer<Int32>) throws(IOError) {
        precondition(slots.count >= 2)
        guard buffer.count > 0 else {
            prepareDatasync(fd: fd, slot: 1)
            slots[0] = 0
            return try submit()
        }
        prepareWrite(fd: fd, buffer, offset: offset, slot: 0, linkNext: true)
        prepareDatasync(fd: fd, slot: 1)
        try submit()
    }

    /// Waits for what `beginWriteAndSync` started and returns once all of `buffer` is durable.
    /// A short write cancels the linked fdatasync (ECANCELED); the rest is then written with
    /// its own fdatasync. An fdatasync failure is thrown as is and must not be retried by the
    /// caller (the page cache may have dropped the dirty pages).
    public mutating func completeWriteAndSync(fd: Int32, _ buffer: UnsafeRawBufferPointer, offset: Int64,
                                              slots: UnsafeMutableBufferPointer<Int32>) throws(IOError) {
        try reap(buffer.count > 0 ? 2 : 1, into: slots)
        var done = 0
        while true {
            let written = slots[0]
            let synced = slots[1]
            if written < 0 && written != -EINTR && written != -EAGAIN {
                throw IOError(operation: "write", errno: Errno(rawValue: -written), path: path, offset: offset + Int64(done))
            }
            if written > 0 { done += Int(written) }
            if done == buffer.count {
                if synced == 0 { return }
                if synced != -ECANCELED && synced != -EINTR && synced != -EAGAIN {
                    throw IOError(operation: "fdatasync", errno: Errno(rawValue: -synced), path: path)
                }
            } else if written == 0 {
                throw IOError(operation: "write", errno: .ioError, path: path, offset: offset + Int64(done))
            }
            // A short or interrupted write, or a sync that never ran: go again with the rest.
            let rest = UnsafeRawBufferPointer(rebasing: buffer[done...])
            try beginWriteAndSync(fd: fd, rest, offset: offset + Int64(done), slots: slots)
            try reap(rest.count > 0 ? 2 : 1, into: slots)
        }
    }
}

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

    /// Queues a read into `buffer` (of an eventfd or a pipe: no file offset).
    public mutating func prepareRead(fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, slot: Int) {
        precondition(slot >= 0)
        let rc = keel_ring_prep_read(ring, fd, buffer.baseAddress, UInt32(buffer.count), UInt64(slot))
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

    /// The value a completion slot holds while its operation is still in flight.
    public static let inFlight = Int32.min

    /// Starts writing all of `buffer` at `offset` followed by an fdatasync: a write linked to
    /// an fdatasync, submitted together, without waiting. Their completions land in
    /// `slots[firstSlot]` and `slots[firstSlot + 1]`; `completeWriteAndSync` with the same
    /// arguments finishes it, and `buffer` must stay untouched until then. Several such writes
    /// may be in flight at once, each with its own pair of slots: the kernel runs their
    /// fdatasyncs concurrently.
    public mutating func beginWriteAndSync(fd: Int32, _ buffer: UnsafeRawBufferPointer, offset: Int64,
                                           firstSlot: Int, slots: UnsafeMutableBufferPointer<Int32>) throws(IOError) {
        precondition(firstSlot >= 0 && firstSlot + 1 < slots.count)
        slots[firstSlot] = buffer.count > 0 ? Self.inFlight : 0
        slots[firstSlot + 1] = Self.inFlight
        if buffer.count > 0 {
            prepareWrite(fd: fd, buffer, offset: offset, slot: firstSlot, linkNext: true)
        }
        prepareDatasync(fd: fd, slot: firstSlot + 1)
        try submit()
    }

    /// Waits for what `beginWriteAndSync` started (same arguments) and returns once all of
    /// `buffer` is durable; completions of other writes in flight are stored in their slots
    /// meanwhile. A short write cancels the linked fdatasync (ECANCELED); the rest is then
    /// written with its own fdatasync. An fdatasync failure is thrown as is and must not be
    /// retried by the caller (the page cache may have dropped the dirty pages).
    public mutating func completeWriteAndSync(fd: Int32, _ buffer: UnsafeRawBufferPointer, offset: Int64,
                                              firstSlot: Int, slots: UnsafeMutableBufferPointer<Int32>) throws(IOError) {
        var done = 0
        while true {
            while slots[firstSlot] == Self.inFlight || slots[firstSlot + 1] == Self.inFlight {
                try reap(1, into: slots)
            }
            let written = slots[firstSlot]
            let synced = slots[firstSlot + 1]
            if written < 0 && written != -EINTR && written != -EAGAIN {
                throw IOError(operation: "write", errno: Errno(rawValue: -written), path: path, offset: offset + Int64(done))
            }
            if written > 0 { done += Int(written) }
            if done == buffer.count {
                if synced == 0 { return }
                if synced != -ECANCELED && synced != -EINTR && synced != -EAGAIN {
                    throw IOError(operation: "fdatasync", errno: Errno(rawValue: -synced), path: path)
                }
            } else if written == 0 && done < buffer.count {
                throw IOError(operation: "write", errno: .ioError, path: path, offset: offset + Int64(done))
            }
            // A short or interrupted write, or a sync that never ran: go again with the rest.
            let rest = UnsafeRawBufferPointer(rebasing: buffer[done...])
            try beginWriteAndSync(fd: fd, rest, offset: offset + Int64(done), firstSlot: firstSlot, slots: slots)
        }
    }
}

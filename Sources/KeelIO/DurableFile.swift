#if canImport(Glibc)
import Glibc
#endif

/// How a file's durable writes reach the disk; the server flag `--wal-io` picks it.
public enum IOBackendChoice: String, Sendable, CaseIterable {
    /// io_uring when the kernel lets this process use it, else `sync`.
    case auto
    /// io_uring or an error: for operators who want to know it is in use.
    case uring
    /// pwrite + fdatasync on the calling thread.
    case sync
}

/// The backend a file actually got.
public enum IOBackend: String, Sendable {
    case uring
    case sync

    /// Resolves a choice on this machine; `.uring` where io_uring is unusable is an error.
    public static func resolve(_ choice: IOBackendChoice, path: String) throws(IOError) -> IOBackend {
        switch choice {
        case .sync: return .sync
        case .auto: return Ring.isUsable ? .uring : .sync
        case .uring:
            if let errno = Ring.probe { throw IOError(operation: "io_uring_setup", errno: errno, path: path) }
            return .uring
        }
    }
}

/// An open file that Keel writes durably: appends at explicit offsets followed by
/// fdatasync, through io_uring (a write linked to an fdatasync) or the portable fallback.
/// Both backends put the same bytes at the same offsets; only the system calls differ.
///
/// The owner is the only user: not shared between threads without the owner's own lock.
public struct DurableFile: ~Copyable {
    public let path: String
    public let descriptor: Int32
    public let backend: IOBackend
    private var ring: Ring?
    /// The completion slots of this file's ring operations (a pair per write in flight),
    /// owned here so that no write allocates.
    private let slots: UnsafeMutableBufferPointer<Int32>
    /// How many durable writes may be in flight at once (io_uring only), each named by a tag.
    public static let writesInFlightMax = 8

    /// Opens (or with `create`, creates exclusively) `path` for durable writes.
    public init(path: String, create: Bool, backend choice: IOBackendChoice) throws(IOError) {
        let backend = try IOBackend.resolve(choice, path: path)
        let flags = create ? (O_RDWR | O_CREAT | O_EXCL) : O_RDWR
        let fd = try Syscalls.open(path, flags: flags, mode: 0o600)
        do {
            self.ring = backend == .uring ? try Ring(entries: UInt32(2 * Self.writesInFlightMax), path: path) : nil
        } catch {
            Syscalls.close(fd)
            throw error
        }
        self.path = path
        self.descriptor = fd
        self.backend = backend
        self.slots = .allocate(capacity: 2 * Self.writesInFlightMax + 1)
        self.slots.initialize(repeating: 0)
    }

    deinit {
        Syscalls.close(descriptor)
        slots.deallocate()
    }

    /// Writes `buffer` at `offset` and returns once it is durable (write, then fdatasync).
    /// A thrown error leaves the file in an unknown state past the last durable write: the
    /// caller must stop writing to it (never retry an fdatasync).
    public mutating func writeAndSync(_ buffer: UnsafeRawBufferPointer, at offset: Int64) throws(IOError) {
        if try beginWriteAndSync(buffer, at: offset) == .inFlight {
            try completeWriteAndSync(buffer, at: offset)
        }
    }

    /// Where a durable write stands after `beginWriteAndSync`.
    public enum WriteProgress: Sendable {
        /// The data is durable already (the fallback writes on the calling thread).
        case durable
        /// Submitted to the kernel; `completeWriteAndSync` waits for it.
        case inFlight
    }

    /// Starts a durable write of `buffer` at `offset`. With io_uring it only submits, so the
    /// caller can do other work — start more writes under other tags, wake the waiters of an
    /// earlier write — while the disk works; `buffer` must then stay untouched until
    /// `completeWriteAndSync` with the same tag. The fallback does the whole write and
    /// fdatasync here.
    public mutating func beginWriteAndSync(_ buffer: UnsafeRawBufferPointer, at offset: Int64, tag: Int = 0) throws(IOError) -> WriteProgress {
        if ring != nil {
            precondition(tag >= 0 && tag < Self.writesInFlightMax, "write tag out of range")
            try ring!.beginWriteAndSync(fd: descriptor, buffer, offset: offset, firstSlot: 2 * tag, slots: slots)
            return .inFlight
        }
        try Syscalls.pwriteAll(descriptor, buffer, offset: offset, path: path)
        try Syscalls.fdatasync(descriptor, path: path)
        return .durable
    }

    /// The slot of the wake-up read, after the write tags' pairs.
    private var wakeupSlot: Int { 2 * Self.writesInFlightMax }
    /// Whether a wake-up read is queued on the ring.
    public private(set) var wakeupArmed = false

    /// io_uring only: queues a read of the eventfd `eventDescriptor` into `buffer` (8 bytes,
    /// which must outlive the file), so that `waitForCompletion` also returns when another
    /// thread writes to the eventfd. One thread then waits for the disk and for new work at
    /// once.
    public mutating func armWakeup(eventDescriptor: Int32, buffer: UnsafeMutableRawBufferPointer) throws(IOError) {
        precondition(ring != nil && buffer.count == 8)
        guard !wakeupArmed else { return }
        slots[wakeupSlot] = Ring.inFlight
        ring!.prepareRead(fd: eventDescriptor, buffer, slot: wakeupSlot)
        try ring!.submit()
        wakeupArmed = true
    }

    /// What `waitForCompletion` saw.
    public enum Completion: Sendable {
        /// The wake-up read completed: another thread has work.
        case wakeup
        /// An operation of a write completed (check `isComplete(tag:)`).
        case write
    }

    /// io_uring only: waits for the next completion of anything queued on the ring.
    public mutating func waitForCompletion() throws(IOError) -> Completion {
        precondition(ring != nil)
        // The wake-up may have been reaped already, while `completeWriteAndSync` waited.
        if !(wakeupArmed && slots[wakeupSlot] != Ring.inFlight) { try ring!.reap(1, into: slots) }
        if wakeupArmed && slots[wakeupSlot] != Ring.inFlight {
            wakeupArmed = false
            return .wakeup
        }
        return .write
    }

    /// Whether both operations of the write under `tag` have completed (it may still need
    /// `completeWriteAndSync` to write a rest after a short write).
    public func isComplete(tag: Int) -> Bool {
        slots[2 * tag] != Ring.inFlight && slots[2 * tag + 1] != Ring.inFlight
    }

    /// Waits for the write `beginWriteAndSync` started (same arguments and tag) to be durable.
    public mutating func completeWriteAndSync(_ buffer: UnsafeRawBufferPointer, at offset: Int64, tag: Int = 0) throws(IOError) {
        precondition(ring != nil, "only io_uring writes are ever in flight")
        try ring!.completeWriteAndSync(fd: descriptor, buffer, offset: offset, firstSlot: 2 * tag, slots: slots)
    }

    /// Writes without syncing (followed later by `sync`): used where durability is batched.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: Int64) throws(IOError) {
        try Syscalls.pwriteAll(descriptor, buffer, offset: offset, path: path)
    }

    /// fdatasync: makes earlier `write`s durable.
    public func sync() throws(IOError) { try Syscalls.fdatasync(descriptor, path: path) }

    /// fsync: data and metadata, used after preallocation and size changes.
    public func syncAll() throws(IOError) { try Syscalls.fsync(descriptor, path: path) }

    /// Reserves `bytes` of disk and sets the file's size; with `zeroFill` also writes zeros
    /// over the whole range, so that later fdatasyncs inside it flush data only (see
    /// `Syscalls.zeroFill`). Make it durable with `syncAll()`.
    public func preallocate(bytes: Int64, zeroFill: Bool = false) throws(IOError) {
        try Syscalls.preallocate(descriptor, length: bytes, path: path)
        if zeroFill { try Syscalls.zeroFill(descriptor, 0..<bytes, path: path) }
    }

    public func size() throws(IOError) -> Int64 { try Syscalls.fileSize(descriptor, path: path) }

    public func truncate(to length: Int64) throws(IOError) {
        try Syscalls.truncate(descriptor, length: length, path: path)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(IOError) -> Int {
        try Syscalls.preadAll(descriptor, buffer, offset: offset, path: path)
    }
}

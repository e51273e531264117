import KeelIO

/// Keel's write-ahead log: raft entries and hard state are durable here before the node
/// acknowledges anything.
///
/// Group commit: any number of threads append concurrently. Records that arrive while the
/// previous write + fdatasync is in flight are gathered into the next batch, which goes out
/// as one write and one fdatasync (through io_uring or the fallback). An appender learns that
/// its records are durable by waiting on its ticket or through a completion callback.
///
/// Ordering: records reach the disk in the order their `append` calls took the lock, and a
/// call's records are never split by another call's records unless the call is larger than a
/// batch. A ticket is durable only when every earlier ticket is.
///
/// Failure: a failed write or fdatasync is fatal. The WAL fails every waiting and future
/// append with `.failed`, never retries, and the node must restart and recover from disk.
public final class WAL: @unchecked Sendable {
    /// A position in the append order; `wait(for:)` returns once it is durable.
    public struct Ticket: Hashable, Comparable, Sendable {
        public let rawValue: UInt64
        /// The batch the ticket's last record went into: its waiters sleep on that batch's
        /// condition, so that a finished batch wakes only its own appenders.
        let generation: UInt64
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    public let directory: String
    public let backend: IOBackend
    let options: WALOptions

    // Appender-side state, guarded by `lock`.
    let lock = ConditionLock(conditions: 2 + generationConditions)
    static let workArrived = 0, spaceFreed = 1
    /// Appenders waiting for durability sleep on condition `2 + generation % 4`. Four, because
    /// while batch g is announced, g+1 is being written and g+2 is filling.
    static let generationConditions = 4
    var pending: Batch
    /// How many batches have been handed to the writer; the pending batch's generation.
    var generation: UInt64 = 0
    var appendedTicket: UInt64 = 0
    var durableTicket: UInt64 = 0
    var failure: IOError?
    var closing = false
    var callbacks: [(ticket: UInt64, completion: @Sendable (WALError?) -> Void)] = []
    var callbackHead = 0
    var segments: [SegmentName]
    var statistics = WALStats()

    // Writer-side state, touched only by the writer thread (and by open before it starts).
    var inflight: Batch
    var file: DurableFile
    var position: Int64
    var capacity: Int64
    var writtenHardState: HardState?
    var writtenSnapshot: SnapshotMarker?
    var lastEntryIndex: LogIndex
    private var writer: OSThread?

    init(directory: String, options: WALOptions, file: consuming DurableFile, segments: [SegmentName],
         position: Int64, capacity: Int64, replay: WALReplay, lastEntryIndex: LogIndex) {
        self.directory = directory
        self.options = options
        self.backend = file.backend
        self.file = file
        self.segments = segments
        self.position = position
        self.capacity = capacity
        self.writtenHardState = replay.hardState
        self.writtenSnapshot = replay.snapshot
        self.lastEntryIndex = lastEntryIndex
        self.pending = Batch(capacity: options.batchBytesMax)
        self.inflight = Batch(capacity: options.batchBytesMax)
        self.writer = OSThread(name: "keel-wal") { [unowned self] in self.runWriter() }
    }

    /// A WAL dropped without `close()` closes itself (pending records are still written).
    deinit { if writer != nil { close() } }

    // MARK: Appending

    /// Queues `records` for the next batch and returns its ticket at once. Blocks only while
    /// the next batch is full (backpressure).
    public func append(_ records: [WALRecord]) throws(WALError) -> Ticket {
        let prepared = try prepare(records)
        lock.lock()
        defer { lock.unlock() }
        return try place(records, prepared)
    }

    /// Appends and returns once the records are durable.
    public func appendAndWait(_ records: [WALRecord]) throws(WALError) {
        try wait(for: try append(records))
    }

    /// Appends and calls `completion` once the records are durable (nil) or the WAL failed.
    /// Completions run on the writer thread, in append order, each exactly once; they must
    /// not block.
    public func append(_ records: [WALRecord], completion: @escaping @Sendable (WALError?) -> Void) {
        let prepared: [PreparedRecord]
        do { prepared = try prepare(records) } catch { return completion(error) }
        lock.lock()
        do {
            let ticket = try place(records, prepared)
            callbacks.append((ticket.rawValue, completion))
            lock.unlock()
        } catch {
            lock.unlock()
            completion(error)
        }
    }

    /// Blocks until every record up to `ticket` is durable.
    public func wait(for ticket: Ticket) throws(WALError) {
        lock.lock()
        defer { lock.unlock() }
        while durableTicket < ticket.rawValue {
            if let failure { throw .failed(failure) }
            lock.wait(Self.durableCondition(ticket.generation))
        }
    }

    static func durableCondition(_ generation: UInt64) -> Int { 2 + Int(generation % UInt64(generationConditions)) }

    private func prepare(_ records: [WALRecord]) throws(WALError) -> [PreparedRecord] {
        var prepared: [PreparedRecord] = []
        prepared.reserveCapacity(records.count)
        for record in records {
            let encoded = PreparedRecord(record)
            guard encoded.payloadBytes <= RecordFormat.payloadBytesMax else {
                throw .recordTooLarge(bytes: encoded.payloadBytes, limit: RecordFormat.payloadBytesMax)
            }
            prepared.append(encoded)
        }
        return prepared
    }

    /// Copies records into the pending batch under the lock, waiting for room where needed.
    private func place(_ records: [WALRecord], _ prepared: [PreparedRecord]) throws(WALError) -> Ticket {
        for (record, encoded) in zip(records, prepared) {
            while true {
                if let failure { throw .failed(failure) }
                if closing { throw .closed }
                if pending.isEmpty || pending.bytes + encoded.encodedSize <= options.batchBytesMax { break }
                lock.wait(Self.spaceFreed)
            }
            if pending.isEmpty { lock.signal(Self.workArrived) }
            pending.add(encoded)
            pending.note(record)
        }
        if let failure { throw .failed(failure) }
        if closing { throw .closed }
        appendedTicket += 1
        pending.lastTicket = appendedTicket
        // A call with no records is durable once everything before it is; the writer marks it.
        if records.isEmpty { lock.signal(Self.workArrived) }
        return Ticket(rawValue: appendedTicket, generation: generation)
    }

    // MARK: The writer

    /// A batch that is durable but whose appenders have not been told yet.
    private struct Finished {
        var lastTicket: UInt64
        var generation: UInt64
        var records: Int
        var bytes: Int
    }

    /// The writer loop: take the pending batch, write and fdatasync it, announce it.
    ///
    /// With io_uring the announcement of batch g (waking its appenders, running its
    /// callbacks) happens after batch g+1 was submitted, while the disk works on it, instead
    /// of delaying the next write. The fallback writes on this thread, so it announces each
    /// batch as soon as it is durable, under the same lock hold that takes the next batch.
    private func runWriter() {
        var finished: Finished?
        while true {
            lock.lock()
            var ready: [@Sendable (WALError?) -> Void] = []
            if let done = finished, pending.isEmpty || backend == .sync {
                ready = announce(done)
                finished = nil
            }
            // Tickets that carried no records are durable once everything before them is.
            while pending.isEmpty && finished == nil && failure == nil {
                if pending.lastTicket > durableTicket {
                    durableTicket = pending.lastTicket
                    ready += takeCallbacks(upTo: durableTicket)
                    broadcastDurable()
                }
                if closing { break }
                lock.wait(Self.workArrived)
            }
            if pending.isEmpty {
                lock.unlock()
                ready.forEach { $0(nil) }
                return
            }
            swap(&pending, &inflight)
            let batchGeneration = generation
            generation += 1
            pending.reset(capacity: options.batchBytesMax)
            pending.lastTicket = inflight.lastTicket
            lock.broadcast(Self.spaceFreed)
            lock.unlock()
            ready.forEach { $0(nil) }

            do {
                let progress = try beginInflight()
                if let done = finished {
                    let announced = lock.withLock { announce(done) }
                    announced.forEach { $0(nil) }
                    finished = nil
                }
                if progress == .inFlight { try file.completeWriteAndSync(inflight.contents, at: position) }
                finishInflight()
            } catch {
                if let done = finished { lock.withLock { announce(done) }.forEach { $0(nil) } }
                fail(error)
                return
            }
            finished = Finished(lastTicket: inflight.lastTicket, generation: batchGeneration,
                                records: inflight.records, bytes: inflight.bytes)
        }
    }

    /// Marks a written batch durable and wakes its appenders; returns its callbacks, to run
    /// after the lock is released. Called with the lock held.
    private func announce(_ done: Finished) -> [@Sendable (WALError?) -> Void] {
        statistics.syncs += 1
        statistics.records += UInt64(done.records)
        statistics.bytes += UInt64(done.bytes)
        durableTicket = max(durableTicket, done.lastTicket)
        lock.broadcast(Self.durableCondition(done.generation))
        return takeCallbacks(upTo: durableTicket)
    }

    private func broadcastDurable() {
        for generation in 0..<UInt64(Self.generationConditions) { lock.broadcast(Self.durableCondition(generation)) }
    }

    /// Starts writing the in-flight batch at the end of the current segment, cutting a new
    /// segment first when it does not fit.
    private func beginInflight() throws(IOError) -> DurableFile.WriteProgress {
        if position + Int64(inflight.bytes) > capacity {
            try cutSegment(firstIndex: inflight.firstEntryIndex ?? lastEntryIndex.next, batchBytes: inflight.bytes)
        }
        return try file.beginWriteAndSync(inflight.contents, at: position)
    }

    private func finishInflight() {
        position += Int64(inflight.bytes)
        if let state = inflight.lastHardState { writtenHardState = state }
        if let marker = inflight.lastSnapshot { writtenSnapshot = marker }
        if let index = inflight.lastEntryIndex { lastEntryIndex = index }
    }

    private func fail(_ error: IOError) {
        lock.lock()
        failure = error
        let all = takeCallbacks(upTo: .max)
        broadcastDurable()
        lock.broadcast(Self.spaceFreed)
        lock.unlock()
        options.log("write failed, the WAL accepts no more records: \(error)")
        all.forEach { $0(.failed(error)) }
    }

    private func takeCallbacks(upTo ticket: UInt64) -> [@Sendable (WALError?) -> Void] {
        guard callbackHead < callbacks.count, callbacks[callbackHead].ticket <= ticket else { return [] }
        var ready: [@Sendable (WALError?) -> Void] = []
        while callbackHead < callbacks.count && callbacks[callbackHead].ticket <= ticket {
            ready.append(callbacks[callbackHead].completion)
            callbackHead += 1
        }
        if callbackHead > 1024 && callbackHead * 2 > callbacks.count {
            callbacks.removeFirst(callbackHead)
            callbackHead = 0
        }
        return ready
    }

    // MARK: Lifecycle and inspection

    /// Writes what is pending, stops the writer and closes the segment. Appends after this
    /// throw `.closed`. Returns the failure that stopped the WAL, if one did.
    @discardableResult
    public func close() -> IOError? {
        lock.lock()
        closing = true
        lock.broadcast(Self.workArrived)
        lock.broadcast(Self.spaceFreed)
        broadcastDurable()
        lock.unlock()
        writer?.join()
        writer = nil
        return lock.withLock { failure }
    }

    public var stats: WALStats { lock.withLock { statistics } }

    /// The segment files, oldest first.
    public var segmentFiles: [String] { lock.withLock { segments.map(\.fileName) } }
}

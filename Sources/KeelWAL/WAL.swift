import KeelIO
import Synchronization

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
        /// event word, so that a finished batch wakes only its own appenders.
        let generation: UInt64
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    public let directory: String
    public let backend: IOBackend
    let options: WALOptions

    // Appender-side state, guarded by `lock`.
    let lock = ConditionLock(conditions: 2)
    static let workArrived = 0, spaceFreed = 1
    /// Appenders waiting for durability sleep on event word `generation % 8`, without the
    /// lock: a finished batch wakes only its own appenders, and they go straight back to
    /// appending instead of queueing for the lock first. Eight words, one more than the most
    /// batches in flight plus the one filling (a shared word would only cause spurious wake-ups).
    static let generationWords = 8
    let durableEvents = EventCount(words: generationWords)
    /// Wakes appenders and runs callbacks, off the writer thread.
    let notifier: DurabilityNotifier
    /// io_uring: an eventfd the writer reads through the ring while it waits for the disk, so
    /// that the first record of a new batch can wake it to submit that batch at once.
    let workEvent: EventSignal?
    let workEventBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
    /// Set (under the lock) while the writer waits on the ring with the eventfd armed.
    var writerWaitsOnDisk = false
    /// `durableTicket`, readable without the lock.
    let publishedDurableTicket = Atomic<UInt64>(0)
    /// Set once `failure` is.
    let stopped = Atomic<Bool>(false)
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
    /// Empty batch buffers for the writer to swap in as the next pending batch.
    var spare: [Batch]
    var file: DurableFile
    var position: Int64
    var capacity: Int64
    var writtenHardState: HardState?
    var writtenSnapshot: SnapshotMarker?
    var lastEntryIndex: LogIndex
    /// The next segment file, being made ahead of the cut that will need it.
    var preparation: SegmentPreparation?
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
        let window = backend == .uring ? options.batchesInFlightMax : 1
        self.spare = (0..<window).map { _ in Batch(capacity: options.batchBytesMax) }
        self.notifier = DurabilityNotifier(events: durableEvents, posterWakes: options.writerWakesWaiters)
        // Without an eventfd the writer still works, it only waits for the disk before it
        // looks at new work.
        self.workEvent = backend == .uring ? try? EventSignal() : nil
        self.writer = OSThread(name: "keel-wal") { [unowned self] in self.runWriter() }
    }

    /// A WAL dropped without `close()` closes itself (pending records are still written).
    deinit {
        if writer != nil { close() }
        workEventBuffer.deallocate()
    }

    // MARK: Appending

    /// Queues `records` for the next batch and returns its ticket at once. Blocks only while
    /// the next batch is full (backpressure).
    public func append(_ records: [WALRecord]) throws(WALError) -> Ticket {
        let prepared = try prepare(records)
        lock.lock()
        let placed: (ticket: Ticket, wakeWriter: Bool)
        do { placed = try place(records, prepared) } catch {
            lock.unlock()
            throw error
        }
        lock.unlock()
        if placed.wakeWriter { wakeWriter() }
        return placed.ticket
    }

    /// Appends and returns once the records are durable.
    public func appendAndWait(_ records: [WALRecord]) throws(WALError) {
        try wait(for: try append(records))
    }

    /// Appends and calls `completion` once the records are durable (nil) or the WAL failed.
    /// Completions run on the WAL's notifier thread, in append order, each exactly once; they
    /// must not block.
    public func append(_ records: [WALRecord], completion: @escaping @Sendable (WALError?) -> Void) {
        let prepared: [PreparedRecord]
        do { prepared = try prepare(records) } catch { return completion(error) }
        lock.lock()
        do {
            let placed = try place(records, prepared)
            callbacks.append((placed.ticket.rawValue, completion))
            lock.unlock()
            if placed.wakeWriter { wakeWriter() }
        } catch {
            lock.unlock()
            completion(error)
        }
    }

    /// Blocks until every record up to `ticket` is durable.
    public func wait(for ticket: Ticket) throws(WALError) {
        let word = Self.eventWord(ticket.generation)
        durableEvents.wait(on: word) {
            publishedDurableTicket.load(ordering: .acquiring) >= ticket.rawValue || stopped.load(ordering: .acquiring)
        }
        if publishedDurableTicket.load(ordering: .acquiring) >= ticket.rawValue { return }
        let failure = lock.withLock { self.failure }
        precondition(failure != nil, "a waiter stopped without durability or failure")
        throw .failed(failure!)
    }

    static func eventWord(_ generation: UInt64) -> Int { Int(generation % UInt64(generationWords)) }

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
    /// `wakeWriter` asks the caller to wake the writer once it has unlocked: woken while the
    /// appender still held the lock, the writer would only sleep again waiting for it.
    private func place(_ records: [WALRecord], _ prepared: [PreparedRecord]) throws(WALError)
        -> (ticket: Ticket, wakeWriter: Bool) {
        var wake = false
        for (record, encoded) in zip(records, prepared) {
            while true {
                if let failure { throw .failed(failure) }
                if closing { throw .closed }
                if pending.isEmpty || pending.bytes + encoded.encodedSize <= options.batchBytesMax { break }
                // The writer frees the room: it must be awake before this waits for it.
                if wake {
                    wakeWriter()
                    wake = false
                }
                lock.wait(Self.spaceFreed)
            }
            if pending.isEmpty {
                wake = true
                if writerWaitsOnDisk {
                    writerWaitsOnDisk = false
                    workEvent?.signal()
                }
            }
            pending.add(encoded)
            pending.note(record)
        }
        if let failure { throw .failed(failure) }
        if closing { throw .closed }
        appendedTicket += 1
        pending.lastTicket = appendedTicket
        // A call with no records is durable once everything before it is; the writer marks it.
        if records.isEmpty { wake = true }
        return (Ticket(rawValue: appendedTicket, generation: generation), wake)
    }

    /// Wakes the writer waiting for work (one waiting on the ring's eventfd was woken by
    /// `place`, under the lock). With or without the lock held.
    private func wakeWriter() {
        lock.signal(Self.workArrived)
    }

    // MARK: The writer

    /// A batch handed to the disk and not yet announced.
    private struct InFlight {
        let batch: Batch
        /// The durable-write tag (a pair of completion slots) it uses.
        let tag: Int
        let generation: UInt64
        let offset: Int64
        let started: UInt64
        var durable: Bool
        var nanoseconds: UInt64 = 0
    }

    /// The writer loop: take pending batches, write and fdatasync them, announce them in order.
    ///
    /// With io_uring up to `batchesInFlightMax` batches are on the disk at once: while the
    /// oldest one's fdatasync runs, the next pending batch is submitted behind it, and the
    /// kernel overlaps their fdatasyncs. The fallback writes on this thread, one batch at a
    /// time. Either way batches are announced strictly in order, so a ticket is durable only
    /// when every earlier one is; announcing (marking durable) is cheap for the writer, since
    /// waking appenders and running callbacks are the notifier thread's work.
    private func runWriter() {
        if let nice = options.writerNice {
            do {
                try Syscalls.setThreadNice(nice)
            } catch {
                options.log("the WAL writer keeps its priority (nice \(nice) refused: \(error.errno))")
            }
        }
        var flight: [InFlight] = []
        var freeTags = Array((0..<spare.count).reversed())
        while true {
            lock.lock()
            var notice = Notice()
            while let oldest = flight.first, oldest.durable {
                notice.merge(announce(oldest))
                flight.removeFirst()
                oldest.batch.reset(capacity: options.batchBytesMax)
                spare.append(oldest.batch)
                freeTags.append(oldest.tag)
            }
            // Nothing to write and nothing on the disk: wait. Tickets that carried no records
            // are durable once everything before them is.
            while pending.isEmpty && flight.isEmpty && failure == nil {
                if pending.lastTicket > durableTicket {
                    publishDurable(pending.lastTicket)
                    notice.merge(Notice(words: Self.allWords, callbacks: takeCallbacks(upTo: durableTicket)))
                }
                if closing { break }
                notifier.post(notice)
                notice = Notice()
                lock.wait(Self.workArrived)
            }
            if pending.isEmpty && flight.isEmpty {
                lock.unlock()
                notifier.post(notice)
                return
            }
            var taken: (batch: Batch, generation: UInt64)?
            if !pending.isEmpty && !spare.isEmpty {
                taken = (pending, generation)
                generation += 1
                pending = spare.removeLast()
                pending.lastTicket = taken!.batch.lastTicket
                lock.broadcast(Self.spaceFreed)
            }
            lock.unlock()
            notifier.post(notice)

            do {
                if let taken {
                    try submit(taken.batch, generation: taken.generation, tag: freeTags.removeLast(), flight: &flight)
                } else {
                    try waitForDiskOrWork(&flight)
                }
            } catch {
                drain(&flight)
                fail(error)
                return
            }
        }
    }

    /// Starts writing `batch` at the end of the current segment, cutting a new segment first
    /// (after everything in flight is durable) when it does not fit.
    private func submit(_ batch: Batch, generation: UInt64, tag: Int, flight: inout [InFlight]) throws(IOError) {
        // The next segment is made ahead once the WAL is written to (not on an open that
        // only replays).
        if preparation == nil { preparation = SegmentPreparation(directory: directory, capacity: options.segmentBytes) }
        if position + Int64(batch.bytes) > capacity {
            while flight.contains(where: { !$0.durable }) { try completeOldest(&flight) }
            try cutSegment(firstIndex: batch.firstEntryIndex ?? lastEntryIndex.next, batchBytes: batch.bytes)
        }
        let started = options.clock?() ?? 0
        let progress = try file.beginWriteAndSync(batch.contents, at: position, tag: tag)
        var entry = InFlight(batch: batch, tag: tag, generation: generation, offset: position, started: started,
                             durable: progress == .durable)
        if entry.durable { entry.nanoseconds = (options.clock?() ?? 0) - started }
        flight.append(entry)
        position += Int64(batch.bytes)
        if let state = batch.lastHardState { writtenHardState = state }
        if let marker = batch.lastSnapshot { writtenSnapshot = marker }
        if let index = batch.lastEntryIndex { lastEntryIndex = index }
    }

    /// Waits until the oldest batch still on the disk is durable — or, with io_uring and room
    /// for another batch on the disk, until a record arrives for the next batch, whichever
    /// comes first.
    private func waitForDiskOrWork(_ flight: inout [InFlight]) throws(IOError) {
        guard let i = flight.firstIndex(where: { !$0.durable }) else { return }
        if file.backend == .uring, let workEvent, lock.withLock({ !spare.isEmpty }) {
            // Armed before the flag is raised, so an appender that sees the flag always
            // reaches a queued read.
            try file.armWakeup(eventDescriptor: workEvent.descriptor, buffer: workEventBuffer)
            let workWaiting = lock.withLock { () -> Bool in
                if !pending.isEmpty { return true }
                writerWaitsOnDisk = true
                return false
            }
            if workWaiting { return }
            defer { lock.withLock { writerWaitsOnDisk = false } }
            while !file.isComplete(tag: flight[i].tag) {
                if try file.waitForCompletion() == .wakeup { return }
            }
        }
        try completeOldest(&flight)
    }

    /// Waits until the oldest batch still on the disk is durable.
    private func completeOldest(_ flight: inout [InFlight]) throws(IOError) {
        guard let i = flight.firstIndex(where: { !$0.durable }) else { return }
        try file.completeWriteAndSync(flight[i].batch.contents, at: flight[i].offset, tag: flight[i].tag)
        flight[i].durable = true
        flight[i].nanoseconds = (options.clock?() ?? 0) - flight[i].started
    }

    /// After a failure: announces what did become durable, in order, and waits for the rest of
    /// the disk's work, so that no buffer is released while the kernel may still read it.
    private func drain(_ flight: inout [InFlight]) {
        var announcing = true
        for i in flight.indices {
            if !flight[i].durable {
                do {
                    try file.completeWriteAndSync(flight[i].batch.contents, at: flight[i].offset, tag: flight[i].tag)
                } catch {
                    announcing = false
                    continue
                }
            }
            if announcing { notifier.post(lock.withLock { announce(flight[i]) }) }
        }
        flight.removeAll()
    }

    /// Marks a written batch durable; returns the notice that wakes its appenders and runs its
    /// callbacks. Called with the lock held.
    private func announce(_ done: InFlight) -> Notice {
        statistics.syncs += 1
        statistics.records += UInt64(done.batch.records)
        statistics.bytes += UInt64(done.batch.bytes)
        statistics.syncNanoseconds += done.nanoseconds
        if options.clock != nil { options.syncObserver?(done.nanoseconds) }
        publishDurable(max(durableTicket, done.batch.lastTicket))
        return Notice(words: 1 << UInt8(Self.eventWord(done.generation)), callbacks: takeCallbacks(upTo: durableTicket))
    }

    /// Called with the lock held.
    private func publishDurable(_ ticket: UInt64) {
        durableTicket = ticket
        publishedDurableTicket.store(ticket, ordering: .releasing)
    }

    static let allWords = UInt8((1 << generationWords) - 1)

    private func fail(_ error: IOError) {
        lock.lock()
        failure = error
        stopped.store(true, ordering: .releasing)
        let all = takeCallbacks(upTo: .max)
        lock.broadcast(Self.spaceFreed)
        lock.unlock()
        options.log("write failed, the WAL accepts no more records: \(error)")
        notifier.post(Notice(words: Self.allWords, callbacks: all, error: .failed(error)))
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
        lock.unlock()
        writer?.join()
        writer = nil
        notifier.post(Notice(words: Self.allWords))
        notifier.stop()
        preparation?.finish()
        preparation = nil
        return lock.withLock { failure }
    }

    public var stats: WALStats { lock.withLock { statistics } }

    /// The segment files, oldest first.
    public var segmentFiles: [String] { lock.withLock { segments.map(\.fileName) } }
}

#if canImport(Glibc)
import Glibc
#endif
import KeelIO
import KeelTestSupport
import KeelWAL
import Synchronization
import Testing

@Suite struct WALConcurrencyTests {
    /// One append carrying more than a batch holds: it fills the pending batch, must wake the
    /// writer before it waits for room, and goes on in the next batches. With the writer not
    /// woken first, the append never returns (seen while moving the wake-up after the unlock).
    @Test(arguments: DurableFileTestsBackends.all)
    func anAppendLargerThanABatchWaitsForRoomAndCompletes(backend: IOBackendChoice) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = testOptions(segmentBytes: 1 << 20, backend: backend)
        options.batchBytesMax = 4096
        let (wal, _) = try WAL.open(directory: directory.path, options: options)
        let entries = (1...40).map { entry(UInt64($0), size: 1000) }
        let records = entries.map(WALRecord.entry)
        let finished = Atomic<Bool>(false)
        nonisolated(unsafe) var failure: WALError?
        let appender = OSThread(name: "appender") {
            do throws(WALError) { try wal.appendAndWait(records) } catch { failure = error }
            finished.store(true, ordering: .releasing)
        }
        // About 10 batches of fdatasync: seconds at most, even on a slow disk.
        for _ in 0..<3000 where !finished.load(ordering: .acquiring) { usleep(10_000) }
        guard finished.load(ordering: .acquiring) else {
            Issue.record("an append of 40 KB through 4 KB batches did not finish in 30 s")
            return
        }
        appender.join()
        #expect(failure == nil)
        #expect(wal.stats.syncs >= 10, "the records went through several batches")
        #expect(wal.close() == nil)
        let (again, replay) = try WAL.open(directory: directory.path, options: options)
        again.close()
        #expect(replay.entries.digest == entries.digest)
    }

    /// 64 appenders × 1000 records each, half waiting on tickets and half on callbacks:
    /// nothing lost, each appender's order kept, every completion fired exactly once; with the
    /// waiters woken by the notifier thread and by the writer itself.
    @Test(arguments: DurableFileTestsBackends.all, [false, true])
    func manyAppendersGroupCommit(backend: IOBackendChoice, writerWakesWaiters: Bool) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let appenders = 64, perAppender = 1000
        var options = testOptions(segmentBytes: 1 << 20, backend: backend)
        options.writerWakesWaiters = writerWakesWaiters
        let (wal, _) = try WAL.open(directory: directory.path, options: options)
        // Replay checks that entry indexes follow each other, so an index is taken and its
        // record appended under one lock; durability is awaited outside it, concurrently.
        let order = ConditionLock()
        let completions = ConditionLock()
        nonisolated(unsafe) var nextIndex: UInt64 = 1
        nonisolated(unsafe) var fired = [Int](repeating: 0, count: appenders * perAppender)
        nonisolated(unsafe) var failures: [String] = []
        nonisolated(unsafe) var callbackOrder: [UInt64] = []
        var threads: [OSThread] = []
        for appender in 0..<appenders {
            threads.append(OSThread(name: "appender") {
                for sequence in 0..<perAppender {
                    let slot = appender * perAppender + sequence
                    var data = [UInt8](repeating: 0, count: 8)
                    data[0] = UInt8(appender)
                    data[1] = UInt8(sequence & 0xFF)
                    data[2] = UInt8(sequence >> 8)
                    do {
                        if appender % 2 == 0 {
                            let ticket = try order.withLock { () throws(WALError) -> WAL.Ticket in
                                let record = WALRecord.entry(WALEntry(term: Term(1), index: LogIndex(nextIndex), data: data))
                                nextIndex += 1
                                return try wal.append([record])
                            }
                            try wal.wait(for: ticket)
                            completions.withLock { fired[slot] += 1 }
                        } else {
                            order.withLock {
                                let index = nextIndex
                                let record = WALRecord.entry(WALEntry(term: Term(1), index: LogIndex(index), data: data))
                                nextIndex += 1
                                wal.append([record]) { error in
                                    completions.withLock {
                                        if let error { failures.append("\(error)") }
                                        fired[slot] += 1
                                        callbackOrder.append(index)
                                    }
                                }
                            }
                        }
                    } catch {
                        completions.withLock { failures.append("\(error)") }
                    }
                }
            })
        }
        for thread in threads { thread.join() }
        #expect(wal.close() == nil)
        #expect(failures.isEmpty)
        #expect(fired.allSatisfy { $0 == 1 }, "every completion fired exactly once")
        #expect(callbackOrder == callbackOrder.sorted(), "callbacks run in append order")
        let stats = wal.stats
        #expect(stats.records == UInt64(appenders * perAppender))
        #expect(stats.syncs < stats.records, "group commit put several records in one fdatasync")

        let (again, replay) = try WAL.open(directory: directory.path, options: options)
        again.close()
        #expect(replay.entries.count == appenders * perAppender)
        var seen = [Int](repeating: 0, count: appenders)
        for entry in replay.entries {
            let appender = Int(entry.data[0])
            let sequence = Int(entry.data[1]) | Int(entry.data[2]) << 8
            #expect(sequence == seen[appender], "appender \(appender) order")
            seen[appender] = sequence + 1
        }
        #expect(seen.allSatisfy { $0 == perAppender })
    }

    /// The two backends write the same bytes: every segment file is identical.
    @Test func backendsWriteIdenticalSegments() throws {
        try #require(Ring.isUsable, "io_uring is not usable here: \(String(describing: Ring.probe))")
        var records: [WALRecord] = []
        for index in 1...400 {
            records.append(.entry(entry(UInt64(index), size: (index * 53) % 700)))
            if index % 50 == 0 { records.append(.hardState(HardState(term: Term(1), vote: MemberID(3), commit: LogIndex(UInt64(index))))) }
        }
        var contents: [[String: [UInt8]]] = []
        for backend in [IOBackendChoice.uring, .sync] {
            let directory = TemporaryDirectory()
            defer { directory.remove() }
            let options = testOptions(segmentBytes: 32 << 10, backend: backend)
            let (wal, _) = try WAL.open(directory: directory.path, options: options)
            #expect(wal.backend.rawValue == backend.rawValue)
            wal.close()
            try WAL.writeOneByOne(records, directory: directory.path, options: options)
            var files: [String: [UInt8]] = [:]
            for name in try segmentFiles(in: directory.path) { files[name] = TestFiles.read(directory.child(name)) }
            contents.append(files)
        }
        #expect(contents[0].count > 3)
        #expect(contents[0] == contents[1])
    }
}

enum DurableFileTestsBackends {
    static var all: [IOBackendChoice] { Ring.isUsable ? [.uring, .sync] : [.sync] }
}

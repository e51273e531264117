import Testing
@testable import KeelRaft

func entries(_ specs: [(UInt64, UInt64)], data: String = "") -> [Entry] {
    specs.map { Entry(term: Term($0.1), index: LogIndex($0.0), data: Array(data.utf8)) }
}

@Suite struct UnstableTests {
    @Test func truncateAndAppendReplacesTheSuffix() {
        var unstable = Unstable(offset: LogIndex(5))
        unstable.truncateAndAppend(entries([(5, 1), (6, 1), (7, 1)]))
        unstable.truncateAndAppend(entries([(6, 2)]))
        #expect(unstable.entries.map(\.term) == [Term(1), Term(2)])
        unstable.truncateAndAppend(entries([(3, 3), (4, 3)]))
        #expect(unstable.offset == LogIndex(3))
        #expect(unstable.lastIndex == LogIndex(4))
    }

    @Test func stableThroughIgnoresReplacedEntries() {
        var unstable = Unstable(offset: LogIndex(1))
        unstable.truncateAndAppend(entries([(1, 1), (2, 1), (3, 1)]))
        unstable.stable(through: LogIndex(2), term: Term(2))  // term mismatch: replaced meanwhile
        #expect(unstable.entries.count == 3)
        unstable.stable(through: LogIndex(2), term: Term(1))
        #expect(unstable.offset == LogIndex(3) && unstable.entries.count == 1)
    }
}

@Suite struct RaftLogTests {
    /// A log with `stored` in storage (after a snapshot at `snapshotIndex`) and `unstable` after.
    func makeLog(snapshotIndex: UInt64 = 0, stored: [Entry], unstable: [Entry] = []) -> RaftLog {
        let storage = MemoryStorage(confState: ConfState(voters: [NodeID(1)]))
        if snapshotIndex > 0 {
            storage.apply(snapshot: Snapshot(metadata: SnapshotMetadata(index: LogIndex(snapshotIndex), term: Term(1), confState: ConfState(voters: [NodeID(1)]))))
        }
        storage.append(stored)
        var log = RaftLog(storage: storage)
        log.append(unstable)
        return log
    }

    @Test func termAnswersFromBothPartsAndTheSnapshot() {
        let log = makeLog(snapshotIndex: 3, stored: entries([(4, 1), (5, 2)]), unstable: entries([(6, 3)]))
        #expect(log.term(at: LogIndex(2)) == nil)
        #expect(log.term(at: LogIndex(3)) == Term(1))
        #expect(log.term(at: LogIndex(5)) == Term(2))
        #expect(log.term(at: LogIndex(6)) == Term(3))
        #expect(log.term(at: LogIndex(7)) == nil)
        #expect(log.firstIndex == LogIndex(4) && log.lastIndex == LogIndex(6))
    }

    @Test func maybeAppendTruncatesAConflictAndKeepsAMatchingPrefix() {
        var log = makeLog(stored: entries([(1, 1), (2, 1), (3, 1)]))
        #expect(log.maybeAppend(index: LogIndex(1), logTerm: Term(2), commit: .zero, entries: []) == nil)
        let last = log.maybeAppend(index: LogIndex(1), logTerm: Term(1), commit: LogIndex(2), entries: entries([(2, 1), (3, 2), (4, 2)]))
        #expect(last == LogIndex(4))
        #expect(log.term(at: LogIndex(3)) == Term(2))
        #expect(log.committed == LogIndex(2))
        // An old, shorter message must not truncate entries it does not mention.
        #expect(log.maybeAppend(index: LogIndex(1), logTerm: Term(1), commit: LogIndex(2), entries: entries([(2, 1)])) == LogIndex(2))
        #expect(log.lastIndex == LogIndex(4))
    }

    @Test func sliceSpansStorageAndUnstableWithinTheByteLimit() {
        let log = makeLog(stored: entries([(1, 1), (2, 1)], data: "0123456789"), unstable: entries([(3, 1), (4, 1)], data: "0123456789"))
        // Each entry is 27 bytes (10 data + 17 fixed).
        #expect(log.slice(LogIndex(1), LogIndex(5), bytesMax: .max)?.count == 4)
        #expect(log.slice(LogIndex(1), LogIndex(5), bytesMax: 60)?.count == 2)
        #expect(log.slice(LogIndex(2), LogIndex(5), bytesMax: 60)?.map(\.index) == [LogIndex(2), LogIndex(3)])
        #expect(log.slice(LogIndex(3), LogIndex(5), bytesMax: 1)?.count == 1, "at least one entry")
    }

    @Test func sliceOfACompactedIndexIsNil() {
        let log = makeLog(snapshotIndex: 5, stored: entries([(6, 1)]))
        #expect(log.slice(LogIndex(5), LogIndex(7), bytesMax: .max) == nil)
        #expect(log.entries(from: LogIndex(6), bytesMax: .max)?.count == 1)
    }

    @Test func lastIndexWithTermSkipsHigherTerms() {
        let log = makeLog(stored: entries([(1, 1), (2, 1), (3, 2), (4, 3), (5, 3)]))
        #expect(log.lastIndexWithTerm(atMost: Term(2), before: LogIndex(5)) == (LogIndex(3), Term(2)))
        #expect(log.lastIndexWithTerm(atMost: Term(1), before: LogIndex(5)).index == LogIndex(2))
        #expect(log.lastIndexWithTerm(atMost: Term(0), before: LogIndex(5)).index == LogIndex(0))
        #expect(log.lastIndexWithTerm(atMost: Term(9), before: LogIndex(4)).index == LogIndex(4))
    }

    @Test func upToDateComparesLastTermThenIndex() {
        let log = makeLog(stored: entries([(1, 1), (2, 2)]))
        #expect(log.isUpToDate(index: LogIndex(1), term: Term(3)))
        #expect(log.isUpToDate(index: LogIndex(2), term: Term(2)))
        #expect(!log.isUpToDate(index: LogIndex(1), term: Term(2)))
        #expect(!log.isUpToDate(index: LogIndex(9), term: Term(1)))
    }

    @Test func committedEntriesWaitForAPendingSnapshot() {
        var log = makeLog(stored: entries([(1, 1), (2, 1)]))
        log.advanceCommit(to: LogIndex(2))
        #expect(log.nextCommittedEntries(bytesMax: .max).count == 2)
        log.restore(Snapshot(metadata: SnapshotMetadata(index: LogIndex(10), term: Term(2), confState: ConfState(voters: [NodeID(1)]))))
        #expect(log.nextCommittedEntries(bytesMax: .max).isEmpty)
        #expect(log.committed == LogIndex(10) && log.lastIndex == LogIndex(10))
    }
}

@Suite struct MemoryStorageTests {
    @Test func appendCompactAndSnapshot() throws {
        let storage = MemoryStorage()
        storage.append(entries([(1, 1), (2, 1), (3, 2)]))
        storage.append(entries([(3, 3), (4, 3)]))  // replaces from index 3
        #expect(try storage.term(at: LogIndex(3)).get() == Term(3))
        storage.compact(through: LogIndex(2))
        #expect(storage.firstIndex == LogIndex(3) && storage.lastIndex == LogIndex(4))
        #expect(try storage.term(at: LogIndex(2)).get() == Term(1), "the compacted index keeps its term")
        #expect(storage.term(at: LogIndex(1)) == .failure(.compacted))
        #expect(storage.entries(from: LogIndex(2), to: LogIndex(4), bytesMax: .max) == .failure(.compacted))
        let snap = storage.createSnapshot(at: LogIndex(4), confState: ConfState(voters: [NodeID(1)]), data: [7])
        #expect(snap.metadata.term == Term(3))
        #expect(storage.firstIndex == LogIndex(5) && storage.lastIndex == LogIndex(4))
        #expect(!storage.apply(snapshot: snap), "an older or equal snapshot is ignored")
    }
}

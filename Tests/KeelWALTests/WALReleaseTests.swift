import KeelIO
import KeelTestSupport
import KeelWAL
import Testing

@Suite struct WALReleaseTests {
    @Test func releaseDropsWholeSegmentsBeforeTheIndexOnly() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let options = testOptions(segmentBytes: 8192)
        let (wal, _) = try WAL.open(directory: directory.path, options: options)
        try wal.appendAndWait([.hardState(HardState(term: Term(1), vote: MemberID(9), commit: LogIndex(0)))])
        for index in 1...300 { try wal.appendAndWait([.entry(entry(UInt64(index), size: 100))]) }
        try wal.appendAndWait([.snapshot(SnapshotMarker(index: LogIndex(150), term: Term(1)))])
        let before = wal.segmentFiles
        #expect(before.count > 5)
        let removed = try wal.release(before: LogIndex(151))
        #expect(!removed.isEmpty)
        #expect(wal.segmentFiles == Array(before.dropFirst(removed.count)))
        #expect(try segmentFiles(in: directory.path) == wal.segmentFiles)
        // Nothing at or after 151 went: the first remaining segment starts at or before it.
        let firstKept = wal.segmentFiles.first!
        let firstIndex = UInt64(firstKept.split(separator: "-")[1].prefix(16), radix: 16)!
        #expect(firstIndex <= 151)
        // Releasing everything keeps the segment being written.
        try wal.release(before: LogIndex(10_000))
        #expect(wal.segmentFiles.count == 1)
        try wal.appendAndWait([.entry(entry(301, size: 100))])
        wal.close()

        // Only a snapshot at 300 or later could justify that release: replay starts there.
        let (again, replay) = try WAL.open(directory: directory.path, after: LogIndex(300), options: options)
        again.close()
        #expect(replay.entries.map(\.index) == [LogIndex(301)])
        #expect(throws: WALError.self) { _ = try WAL.open(directory: directory.path, after: LogIndex(150), options: options) }
        // The hard state and snapshot marker in force survive the release of the segments
        // that first held them: every new segment repeats them.
        #expect(replay.hardState == HardState(term: Term(1), vote: MemberID(9), commit: LogIndex(0)))
        #expect(replay.snapshot == SnapshotMarker(index: LogIndex(150), term: Term(1)))
    }

    @Test func partialReleaseReplaysFromTheSnapshot() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let options = testOptions(segmentBytes: 8192)
        let (wal, _) = try WAL.open(directory: directory.path, options: options)
        for index in 1...300 { try wal.appendAndWait([.entry(entry(UInt64(index), size: 100))]) }
        try wal.release(before: LogIndex(151))
        wal.close()
        let (again, replay) = try WAL.open(directory: directory.path, after: LogIndex(150), options: options)
        again.close()
        #expect(replay.entries.map(\.index.rawValue) == Array(151...300))
        // Asking for entries the released segments held is an error, not a silent gap.
        #expect(throws: WALError.self) { _ = try WAL.open(directory: directory.path, after: LogIndex(0), options: options) }
    }
}

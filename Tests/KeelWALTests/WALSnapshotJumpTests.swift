import KeelIO
import KeelTestSupport
import KeelWAL
import Testing

/// A follower that installs a leader's snapshot writes a marker past its last entry, then the
/// entries after the marker: replay continues after the marker.
@Suite struct WALSnapshotJumpTests {
    @Test func replayContinuesAfterAMarkerPastTheLastEntry() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let options = testOptions()
        let (wal, _) = try WAL.open(directory: directory.path, options: options)
        for index in 1...20 { try wal.appendAndWait([.entry(entry(UInt64(index)))]) }
        try wal.appendAndWait([.snapshot(SnapshotMarker(index: LogIndex(300), term: Term(2))),
                               .entry(entry(301, term: 2)), .entry(entry(302, term: 2)),
                               .hardState(HardState(term: Term(2), vote: MemberID(1), commit: LogIndex(301)))])
        wal.close()
        let (again, replay) = try WAL.open(directory: directory.path, options: options)
        again.close()
        #expect(replay.snapshot == SnapshotMarker(index: LogIndex(300), term: Term(2)))
        #expect(replay.entries.map(\.index) == [LogIndex(301), LogIndex(302)])
        #expect(replay.hardState?.commit == LogIndex(301))
    }

    /// A member restarts without knowing its snapshot index (`after` 0): once segments before
    /// its newest marker are released, replay starts from that marker.
    @Test func aReleasedLogReplaysFromItsNewestMarker() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let options = testOptions(segmentBytes: 8192)
        let (wal, _) = try WAL.open(directory: directory.path, options: options)
        for index in 1...300 { try wal.appendAndWait([.entry(entry(UInt64(index), size: 100))]) }
        try wal.appendAndWait([.snapshot(SnapshotMarker(index: LogIndex(250), term: Term(1)))])
        #expect(!(try wal.release(before: LogIndex(251))).isEmpty)
        wal.close()
        let (again, replay) = try WAL.open(directory: directory.path, options: options)
        again.close()
        #expect(replay.snapshot == SnapshotMarker(index: LogIndex(250), term: Term(1)))
        #expect(replay.entries.last?.index == LogIndex(300))
        #expect(replay.entries.first.map { $0.index <= LogIndex(251) } == true)
    }

    @Test func aGapWithoutAMarkerIsStillRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let options = testOptions()
        let (wal, _) = try WAL.open(directory: directory.path, options: options)
        for index in 1...20 { try wal.appendAndWait([.entry(entry(UInt64(index)))]) }
        // A marker at or below the last entry moves nothing: the gap after it stays a gap.
        try wal.appendAndWait([.snapshot(SnapshotMarker(index: LogIndex(10), term: Term(1))), .entry(entry(301))])
        wal.close()
        #expect(throws: WALError.self) { _ = try WAL.open(directory: directory.path, options: options) }
    }
}

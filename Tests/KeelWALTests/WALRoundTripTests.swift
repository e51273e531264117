import KeelIO
import KeelTestSupport
@testable import KeelWAL
import Testing

@Suite struct WALRoundTripTests {
    @Test func everyRecordTypeSurvivesReopen() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let dir = directory.child("wal")
        let big = WALEntry(term: Term(3), index: LogIndex(4), kind: .configurationChange, data: (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let records: [WALRecord] = [
            .hardState(HardState(term: Term(1), vote: MemberID(0xABCDEF), commit: LogIndex(0))),
            .entry(WALEntry(term: Term(1), index: LogIndex(1), data: [])),
            .entry(entry(2, size: 1)),
            .entry(entry(3, term: 2, size: 255)),
            .snapshot(SnapshotMarker(index: LogIndex(2), term: Term(1))),
            .entry(big),
            .hardState(HardState(term: Term(3), vote: MemberID(2), commit: LogIndex(4))),
        ]
        let (wal, first) = try WAL.open(directory: dir, options: testOptions())
        #expect(first == WALReplay(hardState: nil, snapshot: nil, entries: [], repairedTail: nil))
        try wal.appendAndWait(Array(records[0..<3]))
        try wal.appendAndWait(Array(records[3...]))
        #expect(wal.close() == nil)

        let (again, replay) = try WAL.open(directory: dir, options: testOptions())
        defer { again.close() }
        #expect(replay.hardState == HardState(term: Term(3), vote: MemberID(2), commit: LogIndex(4)))
        #expect(replay.snapshot == SnapshotMarker(index: LogIndex(2), term: Term(1)))
        #expect(replay.entries.digest == [WALEntry(term: Term(1), index: LogIndex(1), data: []), entry(2, size: 1), entry(3, term: 2, size: 255), big].digest)
        #expect(replay.repairedTail == nil)
        // A big entry does not fit a 64 KiB segment: it got a segment of its own size.
        #expect(try segmentFiles(in: dir).count >= 2)
    }

    /// The check that decides whether a stopped segment's tail needs repair: a non-zero byte
    /// anywhere after the offset counts, including in the last of many 64 KiB blocks.
    @Test func zeroTailCheckSeesEveryByte() {
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 200_001, alignment: 8)
        defer { bytes.deallocate() }
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
        let raw = UnsafeRawBufferPointer(bytes)
        #expect(WAL.isAllZero(raw, from: 0))
        bytes[200_000] = 1
        #expect(!WAL.isAllZero(raw, from: 0))
        #expect(!WAL.isAllZero(raw, from: 200_000))
        bytes[200_000] = 0
        bytes[70_000] = 7
        #expect(!WAL.isAllZero(raw, from: 65_536))
        #expect(WAL.isAllZero(raw, from: 70_001), "bytes before the offset do not count")
    }

    @Test func codecRoundTripsEachType() {
        let records: [WALRecord] = [
            .entry(entry(9, term: 4, size: 256)),
            .entry(WALEntry(term: Term(1), index: LogIndex(1), kind: .configurationChange, data: [1, 2, 3])),
            .hardState(HardState(term: Term(.max), vote: MemberID(.max), commit: LogIndex(.max))),
            .snapshot(SnapshotMarker(index: LogIndex(77), term: Term(5))),
        ]
        for record in records {
            let size = RecordCodec.encodedSize(of: record)
            #expect(size % 8 == 0)
            var bytes = [UInt8](repeating: 0xEE, count: size)
            bytes.withUnsafeMutableBytes { #expect(RecordCodec.encode(record, to: $0.baseAddress!) == size) }
            let decoded = bytes.withUnsafeBytes { RecordCodec.decode($0) }
            #expect(decoded?.record == record)
            #expect(decoded?.size == size)
            // Any single flipped bit is caught.
            for bit in stride(from: 0, to: size * 8, by: 5) {
                var damaged = bytes
                damaged[bit / 8] ^= UInt8(1 << (bit % 8))
                #expect(damaged.withUnsafeBytes { RecordCodec.decode($0) } == nil, "bit \(bit) of \(record)")
            }
        }
    }

    @Test func replayStartsAfterTheSnapshotIndex() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try WAL.writeOneByOne((1...10).map { .entry(entry($0)) }, directory: directory.path, options: testOptions())
        let (wal, replay) = try WAL.open(directory: directory.path, after: LogIndex(6), options: testOptions())
        wal.close()
        #expect(replay.entries.map(\.index.rawValue) == [7, 8, 9, 10])
    }

    @Test func laterEntriesOverwriteAConflictingSuffix() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var records: [WALRecord] = (1...10).map { .entry(entry($0)) }
        records += (6...8).map { .entry(entry($0, term: 2)) }
        try WAL.writeOneByOne(records, directory: directory.path, options: testOptions())
        let (wal, replay) = try WAL.open(directory: directory.path, options: testOptions())
        defer { wal.close() }
        #expect(replay.entries.digest == ((1...5).map { entry($0) } + (6...8).map { entry($0, term: 2) }).digest)
        // Appending continues after the overwrite.
        try wal.appendAndWait([.entry(entry(9, term: 2))])
    }

    @Test func aGapInTheEntriesIsRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try WAL.writeOneByOne([.entry(entry(1)), .entry(entry(2)), .entry(entry(4))], directory: directory.path, options: testOptions())
        let error = #expect(throws: WALError.self) { _ = try WAL.open(directory: directory.path, options: testOptions()) }
        #expect(error?.description.contains("entry 4 follows entry 2 in 0000000000000000-0000000000000001.wal") == true)
        #expect(throws: WALError.self) { _ = try WAL.open(directory: directory.path, after: LogIndex(5), options: testOptions()) }
    }

    @Test func appendsAfterCloseAreRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (wal, _) = try WAL.open(directory: directory.path, options: testOptions())
        wal.close()
        #expect(throws: WALError.closed) { try wal.appendAndWait([.entry(entry(1))]) }
    }

    @Test func anEmptyAppendCompletes() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (wal, _) = try WAL.open(directory: directory.path, options: testOptions())
        defer { wal.close() }
        try wal.appendAndWait([])
        try wal.appendAndWait([.entry(entry(1))])
        try wal.appendAndWait([])
        #expect(wal.stats.records == 1)
    }
}

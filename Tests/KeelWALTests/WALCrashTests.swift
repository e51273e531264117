import KeelIO
import KeelTestSupport
import KeelWAL
import Testing

/// Recovery after a crash at every byte of the last segment: it keeps exactly the records
/// fully written before the crash point and never returns a damaged one.
@Suite struct WALCrashTests {
    /// A log spread over several small segments; returns the directory, the last segment's
    /// path, its original bytes, and the entries in write order with where each ends in the
    /// last segment (nil for entries in earlier segments).
    struct Layout {
        var lastSegment: String
        var bytes: [UInt8]
        var written: Int
        var prefixEnd: Int
        var records: [(record: WALRecord, end: Int?)]
    }

    static func makeLog(in directory: String) throws -> Layout {
        var records: [WALRecord] = [.hardState(HardState(term: Term(1), vote: MemberID(1), commit: LogIndex(0)))]
        var index: UInt64 = 0
        for round in 0..<100 {
            index += 1
            records.append(.entry(entry(index, size: 17 + (round * 37) % 300)))
            if round % 9 == 4 { records.append(.hardState(HardState(term: Term(1), vote: MemberID(1), commit: LogIndex(index)))) }
            if round == 30 { records.append(.snapshot(SnapshotMarker(index: LogIndex(10), term: Term(1)))) }
        }
        try WAL.writeOneByOne(records, directory: directory, options: testOptions(segmentBytes: 8192))
        let files = try segmentFiles(in: directory)
        #expect(files.count >= 3, "the log spans several segments")
        let last = directory + "/" + files.last!
        let bytes = TestFiles.read(last)
        // The segment header's payload holds the prefix size in the high half of its second
        // word (file offset 28): the header, then the hard state and snapshot in force.
        let prefixEnd = Int(bytes[28]) | Int(bytes[29]) << 8 | Int(bytes[30]) << 16 | Int(bytes[31]) << 24
        var appended: [(WALRecord, Int?)] = []
        var offset = prefixEnd
        bytes.withUnsafeBytes { raw in
            while let (record, size) = RecordCodec.decode(UnsafeRawBufferPointer(rebasing: raw[offset...])) {
                offset += size
                appended.append((record, offset))
            }
        }
        #expect(Array(records.suffix(appended.count)) == appended.map(\.0))
        let layout = records.dropLast(appended.count).map { ($0, nil as Int?) } + appended
        return Layout(lastSegment: last, bytes: bytes, written: offset, prefixEnd: prefixEnd, records: layout)
    }

    /// What replay must return from a damaged last segment: every record whose bytes are all
    /// still as written (a zeroed byte that was zero anyway damages nothing), up to the first
    /// one that is not.
    static func expected(_ layout: Layout, damaged: [UInt8]) -> (entries: [WALEntry], hardState: HardState?) {
        var entries: [WALEntry] = []
        var hardState: HardState?
        var start = layout.prefixEnd
        var intact = true
        for (record, end) in layout.records {
            if let end {
                intact = intact && damaged.count >= end && damaged[start..<end] == layout.bytes[start..<end]
                start = end
            }
            guard intact else { break }
            switch record {
            case .entry(let e): entries.append(e)
            case .hardState(let h): hardState = h
            case .snapshot: break
            }
        }
        return (entries, hardState)
    }

    enum Damage: CaseIterable { case zeroed, truncated, flipped }

    static func damage(_ layout: Layout, at cut: Int, _ kind: Damage) -> [UInt8] {
        var bytes = layout.bytes
        switch kind {
        case .zeroed:
            for i in cut..<bytes.count { bytes[i] = 0 }
        case .truncated:
            bytes.removeSubrange(cut...)
        case .flipped:
            for i in cut..<bytes.count { bytes[i] = 0 }
            bytes[cut] = layout.bytes[cut] == 0 ? 0x5A : ~layout.bytes[cut]
        }
        return bytes
    }

    @Test(arguments: Damage.allCases)
    func crashAtEveryByteOfTheLastSegment(_ kind: Damage) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let layout = try Self.makeLog(in: directory.path)
        let files = try segmentFiles(in: directory.path)
        #expect(layout.written > layout.prefixEnd + 1000)
        for cut in 0..<layout.written {
            let damaged = Self.damage(layout, at: cut, kind)
            TestFiles.write(layout.lastSegment, damaged)
            let prefixIntact = damaged.count >= layout.prefixEnd && damaged[0..<layout.prefixEnd] == layout.bytes[0..<layout.prefixEnd]
            if !prefixIntact {
                // The records a segment is created with were durable before it existed under
                // its name: damage there is corruption, refused, never a silent loss.
                #expect(throws: WALError.self, "cut \(cut) inside the segment's prefix") {
                    let (wal, _) = try WAL.open(directory: directory.path, options: testOptions(segmentBytes: 8192))
                    wal.close()
                }
                continue
            }
            let (wal, replay) = try WAL.open(directory: directory.path, options: testOptions(segmentBytes: 8192))
            let want = Self.expected(layout, damaged: damaged)
            #expect(replay.entries.digest == want.entries.digest, "\(kind) at \(cut)")
            #expect(replay.hardState == want.hardState, "\(kind) at \(cut)")
            if cut % 97 == 0 {
                // The repaired log takes new records and replays them after the kept ones.
                let next = (want.entries.last?.index.rawValue ?? 0) + 1
                try wal.appendAndWait([.entry(entry(next, term: 2))])
                wal.close()
                let (again, after) = try WAL.open(directory: directory.path, options: testOptions(segmentBytes: 8192))
                again.close()
                #expect(after.entries.digest == (want.entries + [entry(next, term: 2)]).digest, "append after \(kind) at \(cut)")
                #expect(after.repairedTail == nil)
                // The append may have started a new segment: back to the original set.
                for name in try segmentFiles(in: directory.path) where !files.contains(name) {
                    try Syscalls.unlink(directory.child(name))
                }
            } else {
                wal.close()
            }
        }
    }

    @Test func damageInAnEarlierSegmentRefusesToOpen() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let layout = try Self.makeLog(in: directory.path)
        let first = directory.path + "/" + (try segmentFiles(in: directory.path)).first!
        let original = TestFiles.read(first)
        for offset in stride(from: 0, to: original.count, by: 13) {
            var bytes = original
            bytes[offset] ^= 0x01
            TestFiles.write(first, bytes)
            let error = #expect(throws: WALError.self, "flip at \(offset)") {
                let (wal, _) = try WAL.open(directory: directory.path, options: testOptions(segmentBytes: 8192))
                wal.close()
            }
            if case .corrupt(let segment, _, _) = error {
                #expect(first.hasSuffix(segment))
            } else if case .inconsistent = error {
                // A flipped bit can also turn one valid record into... nothing valid: either way, refused.
            } else {
                Issue.record("unexpected \(String(describing: error))")
            }
        }
        TestFiles.write(first, original)
        let (wal, replay) = try WAL.open(directory: directory.path, options: testOptions(segmentBytes: 8192))
        wal.close()
        #expect(replay.entries.digest == Self.expected(layout, damaged: layout.bytes).entries.digest)
    }

    /// A damaged record in the last segment with valid records more than one batch further on
    /// is old, acknowledged data: refused, not truncated.
    @Test func damageFarBeforeTheTailRefusesToOpen() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let options = testOptions(segmentBytes: 16 << 20)
        let (wal, _) = try WAL.open(directory: directory.path, options: options)
        // 5 MiB of entries: more than the largest batch a torn write could have carried.
        for index in 1...5_000 { _ = try wal.append([.entry(entry(UInt64(index), size: 1_000))]) }
        try wal.appendAndWait([])
        wal.close()
        let segment = directory.path + "/" + (try segmentFiles(in: directory.path)).last!
        var bytes = TestFiles.read(segment)
        bytes[48 + 100 * 1040 + 30] ^= 0x10
        TestFiles.write(segment, bytes)
        let error = #expect(throws: WALError.self) { _ = try WAL.open(directory: directory.path, options: options) }
        guard case .corrupt(_, let offset, let reason) = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
        #expect(offset == Int64(48 + 100 * 1040))
        #expect(reason.contains("valid record follows"))
    }
}

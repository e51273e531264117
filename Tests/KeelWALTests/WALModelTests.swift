import KeelIO
import KeelTestSupport
import KeelWAL
import Testing

/// Random sequences of what a raft node does to its WAL — append entries, overwrite a
/// conflicting suffix, save hard states, mark snapshots and release segments, close and
/// reopen — checked after every reopen against a model of the log. A failing seed is
/// printed and replays exactly.
@Suite struct WALModelTests {
    struct Model {
        var entries: [WALEntry] = []   // contiguous, index order; may start after released ones
        var hardState: HardState?
        var snapshot: SnapshotMarker?
        var term: UInt64 = 1

        var lastIndex: UInt64 { entries.last?.index.rawValue ?? snapshot?.index.rawValue ?? 0 }
        var snapshotIndex: UInt64 { snapshot?.index.rawValue ?? 0 }

        mutating func append(from index: UInt64, count: Int, using random: inout SeededGenerator) -> [WALEntry] {
            if let first = entries.first, index <= entries.last!.index.rawValue {
                entries.removeSubrange(Int(index - first.index.rawValue)...)
            }
            let new = (0..<UInt64(count)).map { i in
                entry(index + i, term: term, size: Int.random(in: 0...1500, using: &random))
            }
            entries += new
            return new
        }
    }

    @Test(arguments: [11, 12, 13, 14, 15, 16] as [UInt64])
    func randomOperationsMatchTheModel(seed: UInt64) throws {
        print("WALModelTests seed \(seed)")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let backend: IOBackendChoice = Ring.isUsable && seed % 2 == 0 ? .uring : .sync
        let options = testOptions(segmentBytes: 16 << 10, backend: backend)
        var model = Model()
        var (wal, _) = try WAL.open(directory: directory.path, options: options)
        let counter = CallbackCounter()
        var done = (overwrites: 0, releases: 0, reopens: 0, segmentsMax: 0)
        for step in 0..<400 {
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<45:
                let new = model.append(from: model.lastIndex + 1, count: Int.random(in: 1...12, using: &random), using: &random)
                try appendRecords(new.map { .entry($0) }, to: wal, counter: counter, random: &random)
            case 45..<55 where model.lastIndex > model.snapshotIndex + 1:
                // A new leader's entries replace a conflicting suffix (never the snapshot).
                model.term += 1
                let from = UInt64.random(in: (model.snapshotIndex + 1)...model.lastIndex, using: &random)
                let new = model.append(from: from, count: Int.random(in: 1...6, using: &random), using: &random)
                done.overwrites += 1
                try appendRecords(new.map { .entry($0) }, to: wal, counter: counter, random: &random)
            case 55..<70:
                let state = HardState(term: Term(model.term), vote: MemberID(UInt64.random(in: 0...3, using: &random)),
                                      commit: LogIndex(UInt64.random(in: 0...model.lastIndex, using: &random)))
                model.hardState = state
                try appendRecords([.hardState(state)], to: wal, counter: counter, random: &random)
            case 70..<78 where model.lastIndex > model.snapshotIndex:
                // A snapshot up to some applied index, then log compaction before it.
                let index = UInt64.random(in: (model.snapshotIndex + 1)...model.lastIndex, using: &random)
                let marker = SnapshotMarker(index: LogIndex(index), term: Term(model.term))
                model.snapshot = marker
                try wal.appendAndWait([.snapshot(marker)])
                done.segmentsMax = max(done.segmentsMax, wal.segmentFiles.count)
                if try !wal.release(before: LogIndex(index + 1)).isEmpty { done.releases += 1 }
                model.entries.removeAll { $0.index.rawValue <= index }
            case 78..<88:
                #expect(wal.close() == nil, "seed \(seed) step \(step)")
                #expect(counter.settled, "seed \(seed) step \(step): every callback fired once, without error")
                let (reopened, replay) = try WAL.open(directory: directory.path, after: LogIndex(model.snapshotIndex), options: options)
                wal = reopened
                done.reopens += 1
                #expect(replay.entries.digest == model.entries.digest, "seed \(seed) step \(step): entries")
                #expect(replay.hardState == model.hardState, "seed \(seed) step \(step): hard state")
                #expect(replay.snapshot == model.snapshot, "seed \(seed) step \(step): snapshot")
                #expect(replay.repairedTail == nil, "seed \(seed) step \(step): a clean close leaves no torn tail")
            default:
                try wal.appendAndWait([])
            }
        }
        wal.close()
        // The run exercised what it is meant to: overwrites, releases across several
        // segments, and many reopens.
        #expect(done.overwrites >= 10 && done.releases >= 3 && done.reopens >= 20 && done.segmentsMax >= 3,
                "seed \(seed): \(done)")
    }

    /// Appends by ticket or by callback, at random.
    private func appendRecords(_ records: [WALRecord], to wal: WAL, counter: CallbackCounter,
                               random: inout SeededGenerator) throws {
        if Bool.random(using: &random) {
            try wal.appendAndWait(records)
        } else {
            counter.expectOne()
            wal.append(records) { error in counter.fired(error) }
        }
    }
}

/// Counts callbacks expected and fired, from any thread.
final class CallbackCounter: @unchecked Sendable {
    private let lock = ConditionLock()
    private var expected = 0
    private var firedCount = 0
    private var errors: [WALError] = []

    func expectOne() { lock.withLock { expected += 1 } }
    func fired(_ error: WALError?) {
        lock.withLock {
            firedCount += 1
            if let error { errors.append(error) }
        }
    }

    /// Every expected callback fired exactly once and none with an error.
    var settled: Bool { lock.withLock { firedCount == expected && errors.isEmpty } }
}

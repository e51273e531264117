import Testing
@testable import KeelRaft

@Suite struct InflightsTests {
    @Test func fullByCountAndFreedInOrder() {
        var inflights = Inflights(countMax: 3, bytesMax: 0)
        inflights.add(LogIndex(2), bytes: 10)
        inflights.add(LogIndex(5), bytes: 10)
        #expect(!inflights.isFull)
        inflights.add(LogIndex(9), bytes: 10)
        #expect(inflights.isFull)
        inflights.free(through: LogIndex(4))
        #expect(inflights.indexes == [LogIndex(5), LogIndex(9)])
        #expect(inflights.bytes == 20)
        inflights.add(LogIndex(12), bytes: 1)  // wraps around the ring
        #expect(inflights.indexes == [LogIndex(5), LogIndex(9), LogIndex(12)])
        inflights.freeFirst()
        #expect(inflights.indexes == [LogIndex(9), LogIndex(12)])
        inflights.free(through: LogIndex(100))
        #expect(inflights.count == 0 && inflights.bytes == 0)
    }

    @Test func fullByBytesButOneLargeAppendPasses() {
        var inflights = Inflights(countMax: 10, bytesMax: 100)
        inflights.add(LogIndex(1), bytes: 500)
        #expect(inflights.isFull)
        inflights.free(through: LogIndex(1))
        inflights.add(LogIndex(2), bytes: 60)
        #expect(!inflights.isFull)
        inflights.add(LogIndex(3), bytes: 40)
        #expect(inflights.isFull)
    }

    @Test func matchesAQueueModel() {
        var rng = SeededGenerator(seed: 7)
        var inflights = Inflights(countMax: 8, bytesMax: 0)
        var model: [LogIndex] = []
        var next: UInt64 = 1
        for step in 0..<2000 {
            if !inflights.isFull && Bool.random(using: &rng) {
                next += UInt64.random(in: 1...3, using: &rng)
                inflights.add(LogIndex(next), bytes: 1)
                model.append(LogIndex(next))
            } else {
                let to = LogIndex(next - UInt64.random(in: 0...4, using: &rng))
                inflights.free(through: to)
                model.removeAll { $0 <= to }
            }
            #expect(inflights.indexes == model, "seed 7 step \(step)")
            #expect(inflights.isFull == (model.count == 8))
        }
    }
}

@Suite struct ProgressTests {
    func progress(match: UInt64, next: UInt64, state: ProgressState) -> Progress {
        var pr = Progress(next: LogIndex(next), inflights: Inflights(countMax: 4, bytesMax: 0), isLearner: false)
        pr.match = LogIndex(match)
        switch state {
        case .probe: break
        case .replicate: pr.becomeReplicate(); pr.next = LogIndex(next)
        case .snapshot: pr.becomeSnapshot(LogIndex(next))
        }
        return pr
    }

    @Test func replicateRejectionsBelowMatchAreStale() {
        var pr = progress(match: 5, next: 10, state: .replicate)
        do { let changed = pr.maybeDecrease(rejected: 4, hint: 4); #expect(!changed) }
        #expect(pr.next == LogIndex(10))
        do { let changed = pr.maybeDecrease(rejected: 9, hint: 9); #expect(changed) }
        #expect(pr.next == LogIndex(6))
    }

    @Test func probeRejectionUsesTheHintButNotBelowMatch() {
        var pr = progress(match: 2, next: 10, state: .probe)
        do { let changed = pr.maybeDecrease(rejected: 5, hint: 3); #expect(!changed, "only the last probe rejection counts") }
        do { let changed = pr.maybeDecrease(rejected: 9, hint: 4); #expect(changed) }
        #expect(pr.next == LogIndex(5))
        var low = progress(match: 6, next: 10, state: .probe)
        do { let changed = low.maybeDecrease(rejected: 9, hint: 1); #expect(changed) }
        #expect(low.next == LogIndex(7))
    }

    @Test func pausing() {
        var probe = progress(match: 0, next: 1, state: .probe)
        #expect(!probe.isPaused)
        probe.sentAppend(entryCount: 1, bytes: 10, last: LogIndex(1))
        #expect(probe.isPaused)
        do { let changed = probe.maybeUpdate(LogIndex(1)); #expect(changed) }
        #expect(!probe.isPaused)

        var replicate = progress(match: 0, next: 1, state: .replicate)
        for i in 1...4 { replicate.sentAppend(entryCount: 1, bytes: 1, last: LogIndex(UInt64(i))) }
        #expect(replicate.isPaused)
        #expect(replicate.next == LogIndex(5))
        #expect(progress(match: 0, next: 1, state: .snapshot).isPaused)
    }

    @Test func probeAfterSnapshotStartsAfterIt() {
        var pr = progress(match: 3, next: 20, state: .snapshot)
        #expect(pr.pendingSnapshot == LogIndex(20))
        pr.becomeProbe()
        #expect(pr.next == LogIndex(21))
    }
}

@testable import KeelMVCC
import Testing

/// etcd's generations semantics, case by case. The running example is etcd's own:
/// put(1) put(2) tombstone(3) put(4) tombstone(5) on one key.
@Suite struct KeyIndexTests {
    typealias Found = (modified: Revision, created: Revision, version: Int64)

    static func r(_ main: Int64, _ sub: Int64 = 0) -> Revision { Revision(main: main, sub: sub) }

    static func example() -> KeyIndex {
        var index = KeyIndex(created: r(1))
        index.put(r(2))
        delete(&index, r(3))
        index.put(r(4))
        delete(&index, r(5))
        return index
    }

    static func delete(_ index: inout KeyIndex, _ revision: Revision, sourceLocation: SourceLocation = #_sourceLocation) {
        let deleted = index.tombstone(revision)
        #expect(deleted, "tombstone \(revision) refused", sourceLocation: sourceLocation)
    }

    static func expectGet(_ index: KeyIndex, _ at: Int64, _ want: (Int64, Int64, Int64)?,
                          sourceLocation: SourceLocation = #_sourceLocation) {
        let got = index.get(atRevision: at)
        let gotTriple = got.map { ($0.modified.main, $0.created.main, $0.version) }
        #expect(gotTriple?.0 == want?.0 && gotTriple?.1 == want?.1 && gotTriple?.2 == want?.2,
                "get at \(at): \(String(describing: gotTriple)), want \(String(describing: want))", sourceLocation: sourceLocation)
    }

    /// Drops what compaction at `at` drops, like the builder, and returns the revisions kept
    /// at or below `at`; nil when the key goes.
    static func compact(_ index: inout KeyIndex, at: Int64) -> [Revision]? {
        let drop = index.compaction(atRevision: at)
        if drop == index.revisions.count { return nil }
        index.dropOldest(drop)
        return index.revisions.filter { $0.main <= at }
    }

    @Test func getWalksGenerations() {
        let index = Self.example()
        Self.expectGet(index, 0, nil)
        Self.expectGet(index, 1, (1, 1, 1))
        Self.expectGet(index, 2, (2, 1, 2))
        Self.expectGet(index, 3, nil) // deleted at 3
        Self.expectGet(index, 4, (4, 4, 1)) // a new generation counts from 1
        Self.expectGet(index, 5, nil)
        Self.expectGet(index, 99, nil)
        #expect(index.modified == Self.r(5))
        #expect(!index.isLive)
        #expect(index.revisions(since: 3) == [Self.r(3), Self.r(4), Self.r(5)])
        #expect([0, 1, 2, 3, 4].map { index.isTombstone(at: $0) } == [false, false, true, false, true])
    }

    @Test func getBeforeCreationIsAbsent() {
        var index = KeyIndex(created: Self.r(10, 2))
        Self.expectGet(index, 9, nil)
        Self.expectGet(index, 10, (10, 10, 1))
        index.put(Self.r(12))
        Self.expectGet(index, 11, (10, 10, 1))
        Self.expectGet(index, 12, (12, 10, 2))
        #expect(index.get(atRevision: 12)?.created == Self.r(10, 2))
    }

    @Test func tombstoneNeedsALiveKeyAndPutAfterTombstoneStartsAGeneration() {
        var index = KeyIndex(created: Self.r(1))
        Self.delete(&index, Self.r(2))
        let refused = !index.tombstone(Self.r(3))
        #expect(refused)
        #expect(index.revisions == [Self.r(1), Self.r(2)])
        index.put(Self.r(4))
        #expect(index.isLive)
        Self.expectGet(index, 3, nil)
        Self.expectGet(index, 4, (4, 4, 1))
        index.put(Self.r(5))
        Self.expectGet(index, 5, (5, 4, 2))
    }

    @Test func compactInsideAGenerationKeepsVersionsAndCreation() {
        var index = KeyIndex(created: Self.r(1))
        for main in 2...4 { index.put(Self.r(Int64(main))) }
        #expect(Self.compact(&index, at: 3) == [Self.r(3)])
        #expect(index.revisions == [Self.r(3), Self.r(4)])
        Self.expectGet(index, 3, (3, 1, 3))
        Self.expectGet(index, 4, (4, 1, 4))
        index.put(Self.r(5))
        Self.expectGet(index, 5, (5, 1, 5))
        // Compacting again at the same revision changes nothing.
        #expect(index.compaction(atRevision: 3) == 0)
    }

    @Test func compactAsEtcdDocumentsIt() {
        var index = Self.example()
        #expect(Self.compact(&index, at: 2) == [Self.r(2), Self.r(3)].filter { $0.main <= 2 })
        #expect(index.revisions == [Self.r(2), Self.r(3), Self.r(4), Self.r(5)])
        Self.expectGet(index, 2, (2, 1, 2))
        Self.expectGet(index, 4, (4, 4, 1))
        #expect(Self.compact(&index, at: 4) == [Self.r(4)])
        #expect(index.revisions == [Self.r(4), Self.r(5)])
        Self.expectGet(index, 4, (4, 4, 1))
        // At the tombstone itself the tombstone stays (a watch from 5 still sees the delete).
        #expect(Self.compact(&index, at: 5) == [Self.r(5)])
        #expect(index.revisions == [Self.r(5)])
        Self.expectGet(index, 5, nil)
        #expect(!index.isLive)
        // Past it the key goes.
        #expect(Self.compact(&index, at: 6) == nil)
    }

    @Test func compactAtAnEarlierTombstoneKeepsItAndTheLaterGenerations() {
        var index = Self.example()
        #expect(Self.compact(&index, at: 3) == [Self.r(3)])
        #expect(index.revisions == [Self.r(3), Self.r(4), Self.r(5)])
        Self.expectGet(index, 3, nil)
        Self.expectGet(index, 4, (4, 4, 1))
        #expect(index.isTombstone(at: 0) && index.isTombstone(at: 2) && !index.isTombstone(at: 1))
    }

    @Test func compactInTheGapBetweenGenerationsDropsTheOldOne() {
        var index = KeyIndex(created: Self.r(1))
        Self.delete(&index, Self.r(3))
        index.put(Self.r(6))
        index.put(Self.r(7))
        #expect(Self.compact(&index, at: 4) == [])
        #expect(index.revisions == [Self.r(6), Self.r(7)])
        Self.expectGet(index, 7, (7, 6, 2))
        // A later generation compacted inside keeps its own creation and count.
        #expect(Self.compact(&index, at: 7) == [Self.r(7)])
        Self.expectGet(index, 7, (7, 6, 2))
    }

    @Test func compactAcrossAGenerationBoundaryCountsTheNewGeneration() {
        var index = KeyIndex(created: Self.r(1))
        index.put(Self.r(2))
        Self.delete(&index, Self.r(3))
        for main in 4...6 { index.put(Self.r(Int64(main))) }
        #expect(Self.compact(&index, at: 5) == [Self.r(5)])
        #expect(index.revisions == [Self.r(5), Self.r(6)])
        Self.expectGet(index, 5, (5, 4, 2))
        Self.expectGet(index, 6, (6, 4, 3))
    }

    @Test func aLiveKeyIsNeverCompactedAway() {
        let index = KeyIndex(created: Self.r(1))
        #expect(index.compaction(atRevision: 100) == 0)
    }

    @Test func restoreStartsFromTheRowsCreationAndVersion() {
        var index = KeyIndex(restoring: Self.r(9), tombstone: false, created: Self.r(3), version: 5)
        Self.expectGet(index, 9, (9, 3, 5))
        index.put(Self.r(10))
        Self.expectGet(index, 10, (10, 3, 6))
        var lone = KeyIndex(restoring: Self.r(9), tombstone: true, created: Self.r(0), version: 0)
        #expect(!lone.isLive)
        Self.expectGet(lone, 9, nil)
        lone.put(Self.r(11))
        Self.expectGet(lone, 11, (11, 11, 1))
    }

    /// The oldest revision is held inline and the rest in an array: positions read through
    /// `revision(at:)` agree with `revisions` however the key grows and is compacted.
    @Test func positionsAgreeWithTheRevisionList() {
        var index = Self.example()
        #expect(index.revisionCount == 5 && (0..<5).map { index.revision(at: $0) } == index.revisions)
        index.dropOldest(3)
        #expect(index.revisions == [Self.r(4), Self.r(5)] && index.revision(at: 0) == Self.r(4) && index.revisionCount == 2)
        Self.expectGet(index, 4, (4, 4, 1))
        index.dropOldest(1)
        #expect(index.revisions == [Self.r(5)] && index.revisionCount == 1 && !index.isLive)
        Self.expectGet(index, 5, nil)
        index.put(Self.r(6))
        Self.expectGet(index, 6, (6, 6, 1))
        let once = KeyIndex(created: Self.r(7, 1))
        Self.expectGet(once, 6, nil)
        Self.expectGet(once, 7, (7, 7, 1))
        #expect(once.modified == Self.r(7, 1) && once.isLive && once.revisions(since: 7) == [Self.r(7, 1)])
    }
}

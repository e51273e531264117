import Testing
@testable import KeelMVCC

@Suite struct RevisionTests {
    @Test func keyBytesSortAsRevisionsAndRoundTrip() {
        let revisions = [Revision(main: 1), Revision(main: 1, sub: 1), Revision(main: 2), Revision(main: 255, sub: 3),
                         Revision(main: 256), Revision(main: 1 << 40, sub: 7)]
        for (a, b) in zip(revisions, revisions.dropFirst()) {
            #expect(a < b)
            #expect(a.keyBytes().lexicographicallyPrecedes(b.keyBytes()))
        }
        for revision in revisions {
            #expect(Revision(keyBytes: revision.keyBytes()) == revision)
            #expect(Revision(keyBytes: revision.keyBytes(tombstone: true)) == revision)
            #expect(!Revision.isTombstone(keyBytes: revision.keyBytes()))
            #expect(Revision.isTombstone(keyBytes: revision.keyBytes(tombstone: true)))
        }
        #expect(Revision(keyBytes: [1, 2, 3]) == nil)
        var bad = Revision(main: 3).keyBytes()
        bad[8] = 0
        #expect(Revision(keyBytes: bad) == nil)
    }
}

import KeelIO
@testable import KeelStorage
import KeelTestSupport
import Testing

/// A write transaction's cursor while the same transaction changes the bucket under it: each
/// step is compared with a sorted model, and between steps the walk deletes the entry it
/// stands on, puts new keys before and after it, or overwrites values, enough of them to split
/// and empty the nodes it passed through. A failure names its seed and step.
@Suite struct WriteCursorTests {
    static let bucket = Array("w".utf8)

    static func key(_ i: Int) -> [UInt8] { Array("k\(String(i + 100_000))".utf8) }

    @Test(arguments: [11, 12, 13] as [UInt64])
    func walksWhileTheTransactionChangesTheBucket(seed: UInt64) throws {
        print("WriteCursorTests seed \(seed)")
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StorageOptions()
        options.growthBytes = 256 << 10
        let db = try Database.open(path: directory.child("db"), options: options)
        defer { db.close() }
        var random = SeededGenerator(seed: seed)
        var model = SortedBucket()
        // A committed tree of a few levels to start from, so that the cursor crosses mapped
        // pages and copied nodes alike.
        let setup = try db.beginWrite()
        try setup.createBucket(Self.bucket)
        for i in stride(from: 0, to: 6_000, by: 2) {
            let value = TestBytes.random(count: Int.random(in: 0...200, using: &random), using: &random)
            try setup.put(Self.bucket, Self.key(i), value)
            model.put(Self.key(i), value)
        }
        try setup.commit()

        let tx = try db.beginWrite()
        let cursor = try tx.cursor(Self.bucket)
        var index = 0
        var got = cursor.first()
        var changes = 0
        for step in 0..<4_000 {
            let context = "seed \(seed) step \(step)"
            let want = model.entry(at: index)
            try #require(TestBytes.equal(got?.key, want?.key) && TestBytes.equal(got?.value, want?.value),
                         "\(context): got \(TestBytes.summary(got?.key)), the model has \(TestBytes.summary(want?.key))")
            guard let here = got else {
                // Past an end: start again from the other end.
                (index, got) = index < 0 ? (0, cursor.first()) : (model.count - 1, cursor.last())
                continue
            }
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<2:
                // Delete the entry under the cursor; next gives what followed it, prev what
                // preceded it.
                try tx.delete(Self.bucket, here.key)
                model.delete(here.key)
                changes += 1
                if Bool.random(using: &random) { got = cursor.next() } else { (index, got) = (index - 1, cursor.prev()) }
            case 2..<4:
                // Put a burst of new keys around it (odd numbers, never loaded).
                for _ in 0..<Int.random(in: 1...40, using: &random) {
                    let k = Self.key(Int.random(in: 0..<3_000, using: &random) * 2 + 1)
                    let value = TestBytes.random(count: Int.random(in: 0...300, using: &random), using: &random)
                    try tx.put(Self.bucket, k, value)
                    model.put(k, value)
                    changes += 1
                }
                // The cursor still stands on `here`; where that is in the model may have moved.
                index = model.lowerBound(here.key)
                if Bool.random(using: &random) { (index, got) = (index + 1, cursor.next()) } else { (index, got) = (index - 1, cursor.prev()) }
            case 4:
                let target = Self.key(Int.random(in: 0..<6_000, using: &random))
                (index, got) = (model.lowerBound(target), cursor.seek(target))
            default:
                if Bool.random(using: &random) { (index, got) = (index + 1, cursor.next()) } else { (index, got) = (index - 1, cursor.prev()) }
            }
        }
        #expect(changes > 500, "seed \(seed): the walk changed the bucket only \(changes) times")
        try tx.commit()
        #expect(db.check() == [], "seed \(seed)")

        // After the commit the transaction's cursor sees nothing; a read cursor sees the model.
        #expect(cursor.first() == nil)
        let reader = db.beginRead()
        defer { reader.end() }
        let readCursor = try #require(reader.cursor(Self.bucket))
        var entry = readCursor.first()
        for i in 0..<model.count {
            let want = model.entry(at: i)
            try #require(TestBytes.equal(entry?.key, want?.key) && TestBytes.equal(entry?.value, want?.value), "seed \(seed) entry \(i) after commit")
            entry = readCursor.next()
        }
        #expect(entry == nil)
    }

    @Test func aCursorOnAMissingOrDeletedBucket() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let db = try Database.open(path: directory.child("db"))
        defer { db.close() }
        let tx = try db.beginWrite()
        #expect(throws: StorageError.bucketNotFound(Self.bucket)) { _ = try tx.cursor(Self.bucket) }
        try tx.createBucket(Self.bucket)
        let cursor = try tx.cursor(Self.bucket)
        #expect(cursor.first() == nil && cursor.last() == nil && cursor.seek([0x61]) == nil)
        try tx.put(Self.bucket, [0x61], [0x01])
        #expect(cursor.first()?.key == [0x61] && cursor.next() == nil)
        try tx.deleteBucket(Self.bucket)
        #expect(cursor.first() == nil)
        tx.rollback()
    }
}

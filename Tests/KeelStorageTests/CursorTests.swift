import KeelIO
@testable import KeelStorage
import KeelTestSupport
import Testing

/// Cursors across a tree of several levels, empty and missing buckets, a 2 MiB value, bucket
/// creation, deletion and listing, the errors of put, rollback, and the freelist's figures.
@Suite struct CursorTests {
    static let bucket = Array("cursor".utf8)
    static let count = 3_000

    /// Key i: "k", i in five digits, then 0–240 bytes of filler, so that keys sort in the
    /// order of i and are long enough (6–246 bytes) for 3,000 of them to need three levels.
    static func key(_ i: Int) -> [UInt8] {
        Array(digits(i).utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: (i % 5) * 60)
    }

    static func digits(_ i: Int) -> String {
        let number = String(i)
        return "k" + String(repeating: "0", count: max(0, 5 - number.count)) + number
    }

    static func value(_ i: Int) -> [UInt8] {
        (0..<(40 + i * 37 % 120)).map { UInt8(truncatingIfNeeded: i &* 31 &+ $0) }
    }

    /// Entry i of the filled bucket; nil outside 0..<count.
    static func entry(_ i: Int?) -> (key: [UInt8], value: [UInt8])? {
        guard let i, i >= 0 && i < count else { return nil }
        return (key(i), value(i))
    }

    static func options() -> StorageOptions {
        var options = StorageOptions()
        options.growthBytes = 256 << 10
        return options
    }

    /// A database whose bucket holds the 3,000 keys, put in a shuffled order over three commits.
    static func filled(_ path: String) throws -> Database {
        let db = try Database.open(path: path, options: options())
        var order = Array(0..<count)
        var random = SeededGenerator(seed: 41)
        order.shuffle(using: &random)
        for part in 0..<3 {
            let tx = try db.beginWrite()
            try tx.createBucket(bucket)
            for i in order[(part * count / 3)..<((part + 1) * count / 3)] { try tx.put(bucket, key(i), value(i)) }
            try tx.commit()
        }
        return db
    }

    /// Compares cursor results with the entries they should be; keeps the first mismatches.
    struct Walk: CustomStringConvertible {
        private(set) var steps = 0
        private(set) var mismatches: [String] = []

        mutating func expect(_ got: (key: [UInt8], value: [UInt8])?, _ index: Int?, _ label: String) {
            steps += 1
            let want = CursorTests.entry(index)
            let same = TestBytes.equal(got?.key, want?.key) && TestBytes.equal(got?.value, want?.value)
            if !same && mismatches.count < 10 {
                let gotKey = got.map { TestBytes.hex($0.key) } ?? "nil"
                let wantKey = want.map { TestBytes.hex($0.key) } ?? "nil"
                mismatches.append("\(label): got \(gotKey), want entry \(index.map(String.init) ?? "none"): \(wantKey)")
            }
        }

        var description: String { "\(steps) steps: " + mismatches.joined(separator: "; ") }
    }

    // MARK: Cursors

    @Test func firstLastAndFullWalksBothWays() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let db = try Self.filled(directory.child("db"))
        #expect(db.check().isEmpty)
        let reader = db.beginRead()
        let cursor = try #require(reader.cursor(Self.bucket))
        var walk = Walk()
        walk.expect(cursor.first(), 0, "first")
        for i in 1..<Self.count { walk.expect(cursor.next(), i, "next to \(i)") }
        walk.expect(cursor.next(), nil, "next after the last")
        walk.expect(cursor.last(), Self.count - 1, "last")
        for i in stride(from: Self.count - 2, through: 0, by: -1) { walk.expect(cursor.prev(), i, "prev to \(i)") }
        walk.expect(cursor.prev(), nil, "prev before the first")
        walk.expect(cursor.first(), 0, "first again")
        #expect(walk.mismatches.isEmpty, "\(walk)")
        let mismatch = reader.scanMismatch(Self.bucket, expected: (0..<Self.count).map { Self.entry($0)! })
        #expect(mismatch == nil, "full scan: \(mismatch ?? "")")
        reader.end()
        db.close()
    }

    @Test func seekFindsTheFirstKeyAtOrAfter() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let db = try Self.filled(directory.child("db"))
        let reader = db.beginRead()
        let cursor = try #require(reader.cursor(Self.bucket))
        var walk = Walk()
        for i in 0..<Self.count {
            walk.expect(cursor.seek(Self.key(i)), i, "seek key \(i)")
            walk.expect(cursor.next(), i + 1, "seek key \(i), next")
            walk.expect(cursor.seek(Self.key(i)), i, "seek key \(i) again")
            walk.expect(cursor.prev(), i - 1 >= 0 ? i - 1 : nil, "seek key \(i), prev")
            // Just after key i (and before key i + 1), and a prefix of key i (after key i - 1).
            walk.expect(cursor.seek(Self.key(i) + [0x00]), i + 1, "seek after key \(i)")
            walk.expect(cursor.seek(Array(Self.digits(i).utf8)), i, "seek the prefix of key \(i)")
        }
        walk.expect(cursor.seek([]), 0, "seek the empty key")
        walk.expect(cursor.seek([0x00]), 0, "seek 00")
        walk.expect(cursor.seek(Array("k".utf8)), 0, "seek k")
        walk.expect(cursor.seek(Array("l".utf8)), nil, "seek l")
        walk.expect(cursor.seek([0xFF, 0xFF]), nil, "seek ffff")
        walk.expect(cursor.seek(Self.key(Self.count - 1) + [0x00]), nil, "seek after the last key")
        #expect(walk.mismatches.isEmpty, "\(walk)")
        reader.end()
        db.close()
    }

    /// 20,000 seeded steps of next and prev, changing direction often (also at leaf edges);
    /// past either end the cursor is placed again by first, last or seek.
    @Test func randomWalkChangingDirection() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let db = try Self.filled(directory.child("db"))
        let reader = db.beginRead()
        let cursor = try #require(reader.cursor(Self.bucket))
        var random = SeededGenerator(seed: 43)
        var walk = Walk()
        var index = Int.random(in: 0..<Self.count, using: &random)
        walk.expect(cursor.seek(Self.key(index)), index, "seek key \(index)")
        for step in 0..<20_000 {
            if index < 0 || index >= Self.count {
                switch Int.random(in: 0..<3, using: &random) {
                case 0:
                    index = 0
                    walk.expect(cursor.first(), index, "step \(step): first")
                case 1:
                    index = Self.count - 1
                    walk.expect(cursor.last(), index, "step \(step): last")
                default:
                    index = Int.random(in: 0..<Self.count, using: &random)
                    walk.expect(cursor.seek(Self.key(index)), index, "step \(step): seek key \(index)")
                }
            } else if Int.random(in: 0..<3, using: &random) == 0 {
                index -= 1
                walk.expect(cursor.prev(), index, "step \(step): prev to \(index)")
            } else {
                index += 1
                walk.expect(cursor.next(), index, "step \(step): next to \(index)")
            }
        }
        #expect(walk.mismatches.isEmpty, "\(walk)")
        reader.end()
        db.close()
    }

    @Test func emptyBucketsHaveNothingToVisit() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let db = try Database.open(path: directory.child("db"), options: Self.options())
        let tx = try db.beginWrite()
        try tx.createBucket(Array("empty".utf8))
        try tx.createBucket(Array("emptied".utf8))
        for i in 0..<500 { try tx.put(Array("emptied".utf8), Self.key(i), Self.value(i)) }
        try tx.commit()
        let clear = try db.beginWrite()
        for i in 0..<500 { try clear.delete(Array("emptied".utf8), Self.key(i)) }
        try clear.commit()
        #expect(db.check().isEmpty)
        let reader = db.beginRead()
        for name in ["empty", "emptied"] {
            let bucket = Array(name.utf8)
            let cursor = try #require(reader.cursor(bucket), "\(name) exists")
            #expect(cursor.first() == nil, "\(name)")
            #expect(cursor.last() == nil, "\(name)")
            #expect(cursor.seek([]) == nil, "\(name)")
            #expect(cursor.seek(Self.key(7)) == nil, "\(name)")
            #expect(reader.get(bucket, Self.key(7)) == nil, "\(name)")
            var visited = 0
            reader.scan(bucket) { _, _ in
                visited += 1
                return true
            }
            #expect(visited == 0, "\(name)")
        }
        #expect(reader.bucketNames().sorted(by: TestBytes.less) == [Array("emptied".utf8), Array("empty".utf8)])
        reader.end()
        db.close()
    }

    @Test func aMissingBucketHasNoCursorAndRefusesPuts() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let db = try Database.open(path: directory.child("db"), options: Self.options())
        let missing = Array("missing".utf8)
        let setup = try db.beginWrite()
        try setup.createBucket(Array("present".utf8))
        try setup.put(Array("present".utf8), Array("k".utf8), Array("v".utf8))
        try setup.commit()
        let reader = db.beginRead()
        #expect(reader.cursor(missing) == nil)
        #expect(reader.get(missing, Array("k".utf8)) == nil)
        var visited = 0
        reader.scan(missing) { _, _ in
            visited += 1
            return true
        }
        #expect(visited == 0)
        #expect(reader.bucketNames() == [Array("present".utf8)])
        reader.end()

        let tx = try db.beginWrite()
        #expect(tx.get(missing, Array("k".utf8)) == nil)
        let error = #expect(throws: StorageError.self) { try tx.put(missing, Array("k".utf8), Array("v".utf8)) }
        #expect(error == .bucketNotFound(missing))
        tx.rollback()
        #expect(db.check().isEmpty)
        db.close()
    }

    @Test func anEmptyKeyIsRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let db = try Database.open(path: directory.child("db"), options: Self.options())
        let tx = try db.beginWrite()
        try tx.createBucket(Self.bucket)
        let error = #expect(throws: StorageError.self) { try tx.put(Self.bucket, [], Array("v".utf8)) }
        #expect(Self.isInvalidKey(error), "\(String(describing: error))")
        tx.rollback()
        let reader = db.beginRead()
        #expect(reader.bucketNames().isEmpty, "the rolled-back bucket is not there")
        reader.end()
        #expect(db.check().isEmpty)
        db.close()
    }

    static func isInvalidKey(_ error: StorageError?) -> Bool {
        guard let error else { return false }
        if case .invalidKey = error { return true }
        return false
    }

    /// Keys of 500 bytes to 3 KiB, in and out of order, survive a reopen.
    @Test func keysOfAFewKiB() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        var random = SeededGenerator(seed: 44)
        var model = SortedBucket()
        let db = try Database.open(path: path, options: Self.options())
        let tx = try db.beginWrite()
        try tx.createBucket(Self.bucket)
        for _ in 0..<300 {
            let key = TestBytes.random(count: Int.random(in: 500...3_072, using: &random), using: &random)
            let value = TestBytes.random(count: Int.random(in: 0...2_000, using: &random), using: &random)
            try tx.put(Self.bucket, key, value)
            model.put(key, value)
        }
        try tx.commit()
        #expect(db.check().isEmpty)
        db.close()
        let reopened = try Database.open(path: path, options: Self.options())
        #expect(reopened.check().isEmpty)
        let reader = reopened.beginRead()
        let mismatch = reader.scanMismatch(Self.bucket, expected: model.entries())
        #expect(mismatch == nil, "\(mismatch ?? "")")
        let cursor = try #require(reader.cursor(Self.bucket))
        let middle = model.entry(at: 150)!
        let found = cursor.seek(middle.key)
        #expect(TestBytes.equal(found?.key, middle.key) && TestBytes.equal(found?.value, middle.value))
        let after = cursor.next()
        #expect(TestBytes.equal(after?.key, model.entry(at: 151)!.key))
        reader.end()
        reopened.close()
    }

    // MARK: Large values

    @Test func aTwoMebibyteValueSurvivesReopen() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        var random = SeededGenerator(seed: 45)
        let big = TestBytes.random(count: 2 << 20, using: &random)
        let bigKey = Array("big".utf8)
        let db = try Database.open(path: path, options: Self.options())
        let tx = try db.beginWrite()
        try tx.createBucket(Self.bucket)
        try tx.put(Self.bucket, Array("a".utf8), Array("before".utf8))
        try tx.put(Self.bucket, bigKey, big)
        try tx.put(Self.bucket, Array("c".utf8), Array("after".utf8))
        let own = tx.get(Self.bucket, bigKey)
        #expect(TestBytes.equal(own, big), "the write transaction reads its own 2 MiB value: \(TestBytes.summary(own))")
        try tx.commit()
        #expect(db.check().isEmpty)
        try Self.expectBigValue(db, bigKey, big, "after commit")
        db.close()

        let reopened = try Database.open(path: path, options: Self.options())
        #expect(reopened.check().isEmpty)
        try Self.expectBigValue(reopened, bigKey, big, "after reopening")
        // Replaced by another large value, then deleted: the pages go back to the freelist.
        let other = TestBytes.random(count: (2 << 20) - 1, using: &random)
        let replace = try reopened.beginWrite()
        try replace.put(Self.bucket, bigKey, other)
        try replace.commit()
        #expect(reopened.check().isEmpty)
        try Self.expectBigValue(reopened, bigKey, other, "after replacing it")
        let delete = try reopened.beginWrite()
        try delete.delete(Self.bucket, bigKey)
        try delete.commit()
        #expect(reopened.check().isEmpty)
        let reader = reopened.beginRead()
        #expect(reader.get(Self.bucket, bigKey) == nil)
        #expect(reader.get(Self.bucket, Array("c".utf8)) == Array("after".utf8))
        reader.end()
        reopened.close()
    }

    /// `get`, a cursor and a scan each return all of the value, and its neighbours.
    static func expectBigValue(_ db: Database, _ key: [UInt8], _ big: [UInt8], _ label: String) throws {
        let reader = db.beginRead()
        defer { reader.end() }
        let got = reader.get(bucket, key)
        #expect(TestBytes.equal(got, big), "\(label): get gives \(TestBytes.summary(got)), want \(TestBytes.summary(big))")
        let cursor = try #require(reader.cursor(bucket))
        let sought = cursor.seek(key)
        #expect(TestBytes.equal(sought?.key, key) && TestBytes.equal(sought?.value, big), "\(label): seek gives \(TestBytes.summary(sought?.value))")
        #expect(cursor.prev()?.key == Array("a".utf8), "\(label)")
        #expect(cursor.next()?.key == key, "\(label)")
        #expect(cursor.next()?.value == Array("after".utf8), "\(label)")
        let mismatch = reader.scanMismatch(bucket, expected: [(Array("a".utf8), Array("before".utf8)), (key, big), (Array("c".utf8), Array("after".utf8))])
        #expect(mismatch == nil, "\(label): scan: \(mismatch ?? "")")
    }

    // MARK: Buckets

    @Test func bucketsAreCreatedListedDeletedAndRecreatedEmpty() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        let (a, b, c) = (Array("apple".utf8), [0x00, 0xFF] as [UInt8], Array("cherry".utf8))
        let k = Array("shared key".utf8)
        let db = try Database.open(path: path, options: Self.options())
        let create = try db.beginWrite()
        for (name, value) in [(a, "in a"), (b, "in b"), (c, "in c")] {
            try create.createBucket(name)
            try create.put(name, k, Array(value.utf8))
        }
        try create.createBucket(a) // exists: no error, nothing changes
        #expect(create.get(a, k) == Array("in a".utf8))
        try create.commit()
        try Self.expectBuckets(db, [a: ("in a", 1), b: ("in b", 1), c: ("in c", 1)], "after creating")

        let drop = try db.beginWrite()
        try drop.createBucket(a)
        #expect(drop.get(a, k) == Array("in a".utf8), "creating a committed bucket again keeps it")
        try drop.deleteBucket(b)
        #expect(drop.get(b, k) == nil)
        for i in 0..<200 { try drop.put(c, Self.key(i), Self.value(i)) }
        try drop.commit()
        #expect(db.check().isEmpty)
        try Self.expectBuckets(db, [a: ("in a", 1), c: ("in c", 201)], "after deleting b")

        let again = try db.beginWrite()
        try again.createBucket(b)
        #expect(again.get(b, k) == nil, "a recreated bucket starts empty")
        // Deleted and created again in one transaction: only the new contents remain.
        try again.deleteBucket(c)
        try again.createBucket(c)
        try again.put(c, k, Array("new c".utf8))
        try again.commit()
        #expect(db.check().isEmpty)
        try Self.expectBuckets(db, [a: ("in a", 1), b: (nil, 0), c: ("new c", 1)], "after recreating b and c")
        db.close()

        let reopened = try Database.open(path: path, options: Self.options())
        #expect(reopened.check().isEmpty)
        try Self.expectBuckets(reopened, [a: ("in a", 1), b: (nil, 0), c: ("new c", 1)], "after reopening")
        reopened.close()
    }

    /// Exactly these buckets exist, each holding `count` keys and the given value (or none)
    /// under "shared key".
    static func expectBuckets(_ db: Database, _ expected: [[UInt8]: (value: String?, count: Int)], _ label: String) throws {
        let reader = db.beginRead()
        defer { reader.end() }
        let names = expected.keys.sorted(by: TestBytes.less)
        #expect(reader.bucketNames().sorted(by: TestBytes.less) == names, "\(label)")
        for name in names {
            let cursor = try #require(reader.cursor(name), "\(label): bucket \(TestBytes.hex(name))")
            var count = 0
            var entry = cursor.first()
            while entry != nil {
                count += 1
                entry = cursor.next()
            }
            let want = expected[name]!
            let got = reader.get(name, Array("shared key".utf8))
            #expect(TestBytes.equal(got, want.value.map { Array($0.utf8) }), "\(label): bucket \(TestBytes.hex(name)) has \(TestBytes.summary(got))")
            #expect(count == want.count, "\(label): bucket \(TestBytes.hex(name))")
        }
    }

    /// Enough buckets that the bucket directory spans several pages.
    @Test func threeHundredBuckets() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        let names = (0..<300).map { Array("bucket-\(Self.digits($0))".utf8) + [UInt8](repeating: 0x2D, count: 40) }
        let db = try Database.open(path: path, options: Self.options())
        let create = try db.beginWrite()
        for (i, name) in names.enumerated() {
            try create.createBucket(name)
            try create.put(name, Self.key(i), Self.value(i))
        }
        try create.commit()
        let reader = db.beginRead()
        #expect(reader.bucketNames().sorted(by: TestBytes.less) == names)
        reader.end()
        let drop = try db.beginWrite()
        for name in names.enumerated().filter({ $0.offset % 2 == 1 }).map(\.element) { try drop.deleteBucket(name) }
        try drop.commit()
        #expect(db.check().isEmpty)
        db.close()

        let reopened = try Database.open(path: path, options: Self.options())
        #expect(reopened.check().isEmpty)
        let after = reopened.beginRead()
        let kept = names.enumerated().filter { $0.offset % 2 == 0 }
        #expect(after.bucketNames().sorted(by: TestBytes.less) == kept.map(\.element))
        for (i, name) in names.enumerated() {
            let got = after.get(name, Self.key(i))
            #expect(got == (i % 2 == 0 ? Self.value(i) : nil), "bucket \(i)")
        }
        after.end()
        reopened.close()
    }

    // MARK: Rollback

    /// A transaction that put, overwrote, deleted, created and deleted buckets and wrote a
    /// 2 MiB value, then rolled back, leaves the committed state exactly as it was, before and
    /// after a reopen, and the checker finds every page accounted for.
    @Test func rollbackLeavesNothingBehind() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        let (keep, other, temp) = (Array("keep".utf8), Array("other".utf8), Array("temp".utf8))
        var random = SeededGenerator(seed: 46)
        var kept = SortedBucket(), others = SortedBucket()
        let db = try Database.open(path: path, options: Self.options())
        let setup = try db.beginWrite()
        try setup.createBucket(keep)
        try setup.createBucket(other)
        for i in 0..<500 {
            try setup.put(keep, Self.key(i), Self.value(i))
            kept.put(Self.key(i), Self.value(i))
        }
        for i in 0..<50 {
            try setup.put(other, Self.key(i), Self.value(i + 1))
            others.put(Self.key(i), Self.value(i + 1))
        }
        try setup.commit()
        let committedTxid = setup.txid

        let tx = try db.beginWrite()
        let abandonedTxid = tx.txid
        for i in 500..<1_500 { try tx.put(keep, Self.key(i), Self.value(i)) }
        for i in 0..<100 { try tx.put(keep, Self.key(i), Self.value(i + 7)) }
        for i in 100..<300 { try tx.delete(keep, Self.key(i)) }
        try tx.deleteBucket(other)
        try tx.createBucket(temp)
        for i in 0..<100 { try tx.put(temp, Self.key(i), Self.value(i)) }
        try tx.put(keep, Array("huge".utf8), TestBytes.random(count: 2 << 20, using: &random))
        #expect(tx.get(keep, Self.key(700)) == Self.value(700), "the transaction sees its own puts")
        #expect(tx.get(keep, Self.key(5)) == Self.value(12), "and its overwrites")
        #expect(tx.get(keep, Self.key(150)) == nil, "and its deletes")
        #expect(tx.get(other, Self.key(5)) == nil, "and its bucket deletion")
        #expect(tx.get(temp, Self.key(5)) == Self.value(5), "and its new bucket")
        tx.rollback()

        let next = try db.beginWrite()
        #expect(next.txid == abandonedTxid, "the rolled-back txid is used again")
        #expect(next.get(keep, Self.key(150)) == Self.value(150))
        next.rollback()
        try Self.expectRolledBack(db, committedTxid, kept, others, "after rollback")
        db.close()
        let reopened = try Database.open(path: path, options: Self.options())
        try Self.expectRolledBack(reopened, committedTxid, kept, others, "after reopening")
        reopened.close()
    }

    static func expectRolledBack(_ db: Database, _ txid: TxID, _ kept: SortedBucket, _ others: SortedBucket, _ label: String) throws {
        let problems = db.check()
        #expect(problems.isEmpty, "\(label): \(problems.prefix(20))")
        let reader = db.beginRead()
        defer { reader.end() }
        #expect(reader.txid == txid, "\(label)")
        #expect(reader.bucketNames().sorted(by: TestBytes.less) == [Array("keep".utf8), Array("other".utf8)], "\(label)")
        let keepMismatch = reader.scanMismatch(Array("keep".utf8), expected: kept.entries())
        #expect(keepMismatch == nil, "\(label): keep: \(keepMismatch ?? "")")
        let otherMismatch = reader.scanMismatch(Array("other".utf8), expected: others.entries())
        #expect(otherMismatch == nil, "\(label): other: \(otherMismatch ?? "")")
        #expect(reader.cursor(Array("temp".utf8)) == nil, "\(label)")
        #expect(reader.get(Array("keep".utf8), Array("huge".utf8)) == nil, "\(label)")
    }

    // MARK: Space

    /// Deleting most keys frees their pages: pending after the commit that freed them, free
    /// after the next one. The file never shrinks, and later writes reuse the free pages.
    @Test func freedPagesAreCountedAndReused() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let db = try Self.filled(directory.child("db"))
        let full = db.stats
        let delete = try db.beginWrite()
        for i in 0..<Self.count where i % 20 != 0 { try delete.delete(Self.bucket, Self.key(i)) }
        try delete.commit()
        let touch = try db.beginWrite()
        try touch.put(Self.bucket, Self.key(0), Array("touched".utf8))
        try touch.commit()
        let emptied = db.stats
        #expect(emptied.freePages > full.freePages, "full: \(full), after deleting: \(emptied)")
        #expect(emptied.fileBytes >= full.fileBytes, "full: \(full), after deleting: \(emptied)")
        #expect(emptied.inUseBytes < full.inUseBytes, "full: \(full), after deleting: \(emptied)")
        #expect(db.check().isEmpty)

        let refill = try db.beginWrite()
        for i in 0..<Self.count where i % 20 != 0 { try refill.put(Self.bucket, Self.key(i), Self.value(i)) }
        try refill.commit()
        let refilled = db.stats
        #expect(refilled.freePages < emptied.freePages, "the free pages are used again: \(emptied), then \(refilled)")
        #expect(refilled.pageCount < full.pageCount + full.pageCount / 2, "full: \(full), refilled: \(refilled)")
        #expect(refilled.fileBytes >= emptied.fileBytes)
        #expect(db.check().isEmpty)
        db.close()
    }

    /// Pages freed while an older reader is open stay pending (and unused) until it ends; the
    /// reader keeps reading its version although later commits write many pages.
    @Test func pagesAnOlderReaderSeesStayPendingUntilItEnds() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let db = try Self.filled(directory.child("db"))
        let old = db.beginRead()
        let delete = try db.beginWrite()
        for i in 0..<Self.count where i % 20 != 0 { try delete.delete(Self.bucket, Self.key(i)) }
        try delete.commit()
        let rewrite = try db.beginWrite()
        for i in 0..<Self.count where i % 20 != 0 { try rewrite.put(Self.bucket, Self.key(i), Self.value(i + 1)) }
        try rewrite.commit()
        let held = db.stats
        #expect(held.pendingPages > 100, "the deleted keys' pages wait for the old reader: \(held)")
        let mismatch = old.scanMismatch(Self.bucket, expected: (0..<Self.count).map { Self.entry($0)! })
        #expect(mismatch == nil, "the old reader still reads its version: \(mismatch ?? "")")
        #expect(db.check().isEmpty)
        old.end()

        let touch = try db.beginWrite()
        try touch.put(Self.bucket, Self.key(1), Self.value(1))
        try touch.commit()
        let released = db.stats
        #expect(released.pendingPages < held.pendingPages, "held: \(held), released: \(released)")
        #expect(released.freePages > held.freePages, "held: \(held), released: \(released)")
        #expect(db.check().isEmpty)
        db.close()
    }
}

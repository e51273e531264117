import KeelIO
@testable import KeelStorage
import KeelTestSupport
import Testing

/// Random puts, deletes, gets, range scans and cursor walks over three buckets, with random
/// commits, rollbacks, bucket deletions, snapshots held across commits and close-and-reopen,
/// checked against a sorted model of every bucket. `check()` runs after every commit. A
/// failure names its seed and operation number, and the seed replays exactly.
@Suite struct BTreeModelTests {
    static let operationsPerSeed = 25_000

    @Test(arguments: [201, 202, 203, 204] as [UInt64])
    func randomOperationsMatchASortedModel(seed: UInt64) throws {
        print("BTreeModelTests seed \(seed)")
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let run = try ModelRun(seed: seed, path: directory.child("db"), operations: Self.operationsPerSeed)
        for operation in 0..<Self.operationsPerSeed {
            do {
                try run.step(operation)
            } catch let error as StorageError {
                Issue.record("seed \(seed) op \(operation): \(error)")
                return
            }
        }
        try run.finish(Self.operationsPerSeed)
        print("BTreeModelTests seed \(seed): \(run.done)")
        // The run exercised what it is meant to.
        let done = run.done
        #expect(done.commits >= 50 && done.rollbacks >= 5 && done.reopens >= 3 && done.pinnedReads >= 100,
                "seed \(seed): \(done)")
        #expect(done.hugeValues >= 1 && done.largeValues >= 10 && done.bucketDeletes >= 1, "seed \(seed): \(done)")
    }
}

/// One seeded run: the database, its open write transaction, and the model of what was
/// committed and of what the write transaction holds.
final class ModelRun {
    typealias Model = [SortedBucket?] // one per bucket name; nil while the bucket does not exist

    struct Done: CustomStringConvertible {
        var puts = 0, deletes = 0, gets = 0, scans = 0, cursorWalks = 0
        var commits = 0, rollbacks = 0, reopens = 0, pinnedReads = 0
        var largeValues = 0, hugeValues = 0, bucketDeletes = 0

        var description: String {
            "\(puts) puts, \(deletes) deletes, \(gets) gets, \(scans) scans, \(cursorWalks) cursor walks, "
                + "\(commits) commits, \(rollbacks) rollbacks, \(reopens) reopens, \(pinnedReads) pinned reads, "
                + "\(largeValues) large and \(hugeValues) 2 MiB values, \(bucketDeletes) bucket deletions"
        }
    }

    static let names: [[UInt8]] = [Array("alpha".utf8), Array("b".utf8), [0xFF, 0x00, 0x01]]
    static let keySpaceCount = 5_000
    static let hugeBytes = 2 << 20

    let seed: UInt64
    let path: String
    let options: StorageOptions
    /// Operations at which a 2 MiB put and a bucket deletion happen whatever the dice say, so
    /// that every seed has them.
    let forcedHugePut: Int, forcedBucketDelete: Int
    var random: SeededGenerator
    let keySpace: [[UInt8]]
    var db: Database
    var tx: WriteTransaction
    var committed: Model
    var pending: Model
    /// The txid a new reader sees: that of the last commit.
    var lastTxid: TxID
    /// Whether the open write transaction changed anything.
    var dirty = false
    /// A snapshot held across commits, with the model as it was when it began.
    var pinned: (reader: ReadTransaction, model: Model)?
    var done = Done()

    init(seed: UInt64, path: String, operations: Int) throws {
        self.seed = seed
        self.path = path
        var options = StorageOptions()
        options.growthBytes = 256 << 10 // grow often, with readers holding pages
        self.options = options
        forcedHugePut = operations / 5
        forcedBucketDelete = operations * 3 / 5
        var random = SeededGenerator(seed: seed)
        keySpace = Self.makeKeySpace(using: &random)
        self.random = random
        let database = try Database.open(path: path, options: options)
        let setup = try database.beginWrite()
        for name in Self.names { try setup.createBucket(name) }
        let setupTxid = setup.txid
        try setup.commit()
        let reader = database.beginRead()
        let firstTxid = reader.txid
        reader.end()
        db = database
        committed = Self.names.map { _ in SortedBucket() }
        pending = committed
        lastTxid = firstTxid
        // check() waits for an open write transaction: it runs before the next one begins.
        let problems = database.check()
        tx = try database.beginWrite()
        try #require(firstTxid == setupTxid, "seed \(seed): a reader after the first commit sees txid \(firstTxid), the commit had \(setupTxid)")
        try #require(problems.isEmpty, "seed \(seed): check() after creating the buckets: \(problems)")
    }

    /// 5,000 keys of 1–40 bytes, half their bytes from a small alphabet (0x00, 0xFF and
    /// neighbours) so that shared prefixes and prefix-of-another keys are common.
    static func makeKeySpace(using random: inout SeededGenerator) -> [[UInt8]] {
        let alphabet: [UInt8] = [0x00, 0x01, 0x2F, 0x61, 0x62, 0x7F, 0x80, 0xFE, 0xFF]
        return (0..<keySpaceCount).map { _ in
            let length = Int.random(in: 1...40, using: &random)
            return (0..<length).map { _ in
                Bool.random(using: &random)
                    ? alphabet[Int.random(in: 0..<alphabet.count, using: &random)]
                    : UInt8.random(in: 0...255, using: &random)
            }
        }
    }

    func step(_ op: Int) throws {
        if op == forcedHugePut { return try put(op, forceHuge: true) }
        if op == forcedBucketDelete { return try deleteBucket(op, pending.firstIndex { $0 != nil } ?? 0) }
        switch Int.random(in: 0..<10_000, using: &random) {
        case ..<4_500: try put(op)
        case ..<6_000: try delete(op)
        case ..<7_800: try getInWrite(op)
        case ..<8_500: try withReader(op) { try self.getInRead(op, $0, $1, $2) }
        case ..<9_200: try withReader(op) { try self.scanRange(op, $0, $1, $2) }
        case ..<9_400: try withReader(op) { try self.cursorWalk(op, $0, $1, $2) }
        case ..<9_600: try writeCursorWalk(op)
        case ..<9_680: try commit(op)
        case ..<9_700: try rollback(op)
        case ..<9_708: try reopen(op)
        case ..<9_740: try togglePinned(op)
        case ..<9_741: try deleteBucket(op, Int.random(in: 0..<Self.names.count, using: &random))
        case ..<9_800: try createBucket(op)
        default: try withReader(op) { try self.checkBucketNames(op, $0, $1, $2) }
        }
    }

    /// Commits what is open, checks everything once more, and closes.
    func finish(_ op: Int) throws {
        try commit(op, beginNext: false)
        try endPinned(op)
        let reader = db.beginRead()
        try verifyAll(op, reader, committed, "final txid \(reader.txid)")
        reader.end()
        db.close()
    }

    // MARK: Choices

    private func randomBucket() -> Int { Int.random(in: 0..<Self.names.count, using: &random) }

    /// A key of the key space, or (half the time, when there is one) a key the model holds.
    private func randomKey(in bucket: SortedBucket?) -> [UInt8] {
        if let bucket, bucket.count > 0, Bool.random(using: &random) {
            return bucket.keys[Int.random(in: 0..<bucket.count, using: &random)]
        }
        return keySpace[Int.random(in: 0..<keySpace.count, using: &random)]
    }

    /// Mostly 0–300 bytes; some around one and two pages; a few 10–100 KiB; rarely 2 MiB.
    private func randomValueSize(forceHuge: Bool) -> Int {
        let roll = forceHuge ? 0 : Int.random(in: 0..<10_000, using: &random)
        switch roll {
        case ..<3:
            done.hugeValues += 1
            return Bool.random(using: &random) ? Self.hugeBytes : Int.random(in: (Self.hugeBytes - 9_000)..<Self.hugeBytes, using: &random)
        case ..<70:
            done.largeValues += 1
            return Int.random(in: (10 << 10)...(100 << 10), using: &random)
        case ..<170:
            return Int.random(in: 3_900...8_400, using: &random)
        default:
            return Int.random(in: 0...300, using: &random)
        }
    }

    // MARK: Writes

    private func put(_ op: Int, forceHuge: Bool = false) throws {
        let b = randomBucket()
        if pending[b] == nil {
            try tx.createBucket(Self.names[b])
            pending[b] = SortedBucket()
        }
        let key = randomKey(in: pending[b])
        let value = TestBytes.random(count: randomValueSize(forceHuge: forceHuge), using: &random)
        try tx.put(Self.names[b], key, value)
        pending[b]!.put(key, value)
        dirty = true
        done.puts += 1
    }

    private func delete(_ op: Int) throws {
        let b = randomBucket()
        guard pending[b] != nil else { return }
        let key = randomKey(in: pending[b])
        try tx.delete(Self.names[b], key)
        pending[b]!.delete(key)
        dirty = true
        done.deletes += 1
        let got = tx.get(Self.names[b], key)
        try #require(got == nil, "seed \(seed) op \(op): write txid \(tx.txid) still gets \(TestBytes.hex(key)) after deleting it")
    }

    private func getInWrite(_ op: Int) throws {
        let b = randomBucket()
        let key = randomKey(in: pending[b])
        let got = tx.get(Self.names[b], key)
        let want = pending[b]?.get(key)
        let same = TestBytes.equal(got, want)
        done.gets += 1
        try #require(same, "seed \(seed) op \(op): write txid \(tx.txid) get \(TestBytes.hex(Self.names[b]))/\(TestBytes.hex(key)) = \(TestBytes.summary(got)), the model has \(TestBytes.summary(want))")
    }

    private func createBucket(_ op: Int) throws {
        let b = randomBucket()
        try tx.createBucket(Self.names[b]) // no error, and no change, when it exists
        if pending[b] == nil {
            pending[b] = SortedBucket()
            dirty = true
        }
    }

    private func deleteBucket(_ op: Int, _ b: Int) throws {
        guard pending[b] != nil else { return }
        let key = randomKey(in: pending[b])
        try tx.deleteBucket(Self.names[b])
        pending[b] = nil
        dirty = true
        done.bucketDeletes += 1
        let got = tx.get(Self.names[b], key)
        try #require(got == nil, "seed \(seed) op \(op): write txid \(tx.txid) gets \(TestBytes.hex(key)) from deleted bucket \(TestBytes.hex(Self.names[b]))")
    }

    // MARK: Transactions

    private func commit(_ op: Int, beginNext: Bool = true) throws {
        let txid = tx.txid
        try tx.commit()
        committed = pending
        done.commits += 1
        let problems = db.check()
        try #require(problems.isEmpty, "seed \(seed) op \(op): check() after the commit of txid \(txid): \(problems.prefix(20).joined(separator: "; "))")
        let reader = db.beginRead()
        let seen = reader.txid
        reader.end()
        if dirty {
            try #require(seen == txid, "seed \(seed) op \(op): a reader after the commit of txid \(txid) sees txid \(seen)")
        }
        lastTxid = seen
        dirty = false
        if beginNext { try beginWrite(op) }
    }

    private func rollback(_ op: Int) throws {
        tx.rollback()
        pending = committed
        dirty = false
        done.rollbacks += 1
        try beginWrite(op)
    }

    private func beginWrite(_ op: Int) throws {
        tx = try db.beginWrite()
        try #require(tx.txid == TxID(lastTxid.rawValue + 1), "seed \(seed) op \(op): a write transaction after txid \(lastTxid) has txid \(tx.txid)")
    }

    /// Commits or rolls back, closes, reopens, and compares everything with the model.
    private func reopen(_ op: Int) throws {
        if Bool.random(using: &random) {
            try commit(op, beginNext: false)
        } else {
            tx.rollback()
            pending = committed
            dirty = false
        }
        try endPinned(op)
        db.close()
        db = try Database.open(path: path, options: options)
        done.reopens += 1
        let problems = db.check()
        try #require(problems.isEmpty, "seed \(seed) op \(op): check() after reopening: \(problems.prefix(20).joined(separator: "; "))")
        let reader = db.beginRead()
        try #require(reader.txid == lastTxid, "seed \(seed) op \(op): after reopening a reader sees txid \(reader.txid), the last commit was \(lastTxid)")
        try verifyAll(op, reader, committed, "after reopening at txid \(reader.txid)")
        reader.end()
        try beginWrite(op)
    }

    /// Begins a snapshot to hold across commits, or ends the held one after checking all of it.
    private func togglePinned(_ op: Int) throws {
        if pinned != nil { return try endPinned(op) }
        let reader = db.beginRead()
        try #require(reader.txid == lastTxid, "seed \(seed) op \(op): a new reader sees txid \(reader.txid), the last commit was \(lastTxid)")
        pinned = (reader, committed)
    }

    private func endPinned(_ op: Int) throws {
        guard let held = pinned else { return }
        pinned = nil
        try verifyAll(op, held.reader, held.model, "snapshot held at txid \(held.reader.txid), now at \(lastTxid)")
        held.reader.end()
    }

    // MARK: Reads

    /// Runs `body` on the held snapshot (half the time, when there is one) or on a new read
    /// transaction, with the model that snapshot must show.
    private func withReader(_ op: Int, _ body: (ReadTransaction, Model, String) throws -> Void) throws {
        if let held = pinned, Bool.random(using: &random) {
            done.pinnedReads += 1
            return try body(held.reader, held.model, "snapshot held at txid \(held.reader.txid), now at \(lastTxid)")
        }
        let reader = db.beginRead()
        defer { reader.end() }
        try #require(reader.txid == lastTxid, "seed \(seed) op \(op): a new reader sees txid \(reader.txid), the last commit was \(lastTxid)")
        try body(reader, committed, "reader at txid \(reader.txid)")
    }

    private func getInRead(_ op: Int, _ reader: ReadTransaction, _ model: Model, _ label: String) throws {
        let b = randomBucket()
        let key = randomKey(in: model[b])
        let got = reader.get(Self.names[b], key)
        let want = model[b]?.get(key)
        let same = TestBytes.equal(got, want)
        done.gets += 1
        try #require(same, "seed \(seed) op \(op): \(label): get \(TestBytes.hex(Self.names[b]))/\(TestBytes.hex(key)) = \(TestBytes.summary(got)), the model has \(TestBytes.summary(want))")
    }

    /// A scan of a random range, stopped after a random number of entries.
    private func scanRange(_ op: Int, _ reader: ReadTransaction, _ model: Model, _ label: String) throws {
        let b = randomBucket()
        guard let bucket = model[b] else {
            let cursor = reader.cursor(Self.names[b])
            return try #require(cursor == nil, "seed \(seed) op \(op): \(label): a cursor on missing bucket \(TestBytes.hex(Self.names[b]))")
        }
        var start = Int.random(in: 0..<10, using: &random) == 0 ? [] : randomKey(in: bucket)
        var end: [UInt8]? = Int.random(in: 0..<5, using: &random) < 2 ? nil : randomKey(in: bucket)
        if let bound = end {
            let order = TestBytes.compare(start, bound)
            if order == 0 {
                end = nil
            } else if order > 0 {
                end = start
                start = bound
            }
        }
        let limit = Int.random(in: 0..<10, using: &random) == 0 ? Int.max : Int.random(in: 1...300, using: &random)
        let expected = bucket.entries(from: start, to: end, limit: limit)
        let mismatch = reader.scanMismatch(Self.names[b], from: start, to: end, limit: limit, expected: expected)
        done.scans += 1
        try #require(mismatch == nil, "seed \(seed) op \(op): \(label): scan \(TestBytes.hex(Self.names[b])) from \(TestBytes.hex(start)) to \(end.map { TestBytes.hex($0) } ?? "the end") limit \(limit): \(mismatch ?? "")")
    }

    /// A walk (see `walk`) with a read transaction's cursor.
    private func cursorWalk(_ op: Int, _ reader: ReadTransaction, _ model: Model, _ label: String) throws {
        let b = randomBucket()
        guard let bucket = model[b] else {
            let cursor = reader.cursor(Self.names[b])
            return try #require(cursor == nil, "seed \(seed) op \(op): \(label): a cursor on missing bucket \(TestBytes.hex(Self.names[b]))")
        }
        let context = "seed \(seed) op \(op): \(label): cursor on \(TestBytes.hex(Self.names[b]))"
        let cursor = try #require(reader.cursor(Self.names[b]), "\(context): nil for an existing bucket")
        try walk(cursor, bucket, context)
    }

    /// A walk with the open write transaction's cursor, which must see its uncommitted changes.
    private func writeCursorWalk(_ op: Int) throws {
        let b = randomBucket()
        let context = "seed \(seed) op \(op): write cursor on \(TestBytes.hex(Self.names[b]))"
        guard let bucket = pending[b] else {
            #expect(throws: StorageError.bucketNotFound(Self.names[b]), "\(context): a cursor on a missing bucket") {
                _ = try self.tx.cursor(Self.names[b])
            }
            return
        }
        try walk(try tx.cursor(Self.names[b]), bucket, context)
    }

    /// first, last or seek, then up to 40 steps of next and prev, each compared with the model.
    private func walk(_ cursor: some EntryCursor, _ bucket: SortedBucket, _ context: String) throws {
        done.cursorWalks += 1
        var index: Int
        var got: (key: [UInt8], value: [UInt8])?
        var moves: String
        switch Int.random(in: 0..<4, using: &random) {
        case 0: (index, got, moves) = (0, cursor.first(), "first")
        case 1: (index, got, moves) = (bucket.count - 1, cursor.last(), "last")
        default:
            let target = Bool.random(using: &random) ? randomKey(in: bucket) : TestBytes.random(count: Int.random(in: 0...6, using: &random), using: &random)
            (index, got, moves) = (bucket.lowerBound(target), cursor.seek(target), "seek \(TestBytes.hex(target))")
        }
        for _ in 0..<Int.random(in: 0...40, using: &random) {
            try expectEntry(got, bucket.entry(at: index), "\(context): \(moves)")
            guard index >= 0 && index < bucket.count else { return } // past either end: stop there
            if Bool.random(using: &random) {
                (index, got) = (index + 1, cursor.next())
                moves += ", next"
            } else {
                (index, got) = (index - 1, cursor.prev())
                moves += ", prev"
            }
        }
        try expectEntry(got, bucket.entry(at: index), "\(context): \(moves)")
    }

    private func expectEntry(_ got: (key: [UInt8], value: [UInt8])?, _ want: (key: [UInt8], value: [UInt8])?, _ context: String) throws {
        let same = TestBytes.equal(got?.key, want?.key) && TestBytes.equal(got?.value, want?.value)
        try #require(same, "\(context): got \(TestBytes.summary(got?.key)) = \(TestBytes.summary(got?.value)), the model has \(TestBytes.summary(want?.key)) = \(TestBytes.summary(want?.value))")
    }

    private func checkBucketNames(_ op: Int, _ reader: ReadTransaction, _ model: Model, _ label: String) throws {
        let listed = reader.bucketNames().sorted(by: TestBytes.less)
        let expected = Self.names.indices.filter { model[$0] != nil }.map { Self.names[$0] }.sorted(by: TestBytes.less)
        let same = listed == expected
        try #require(same, "seed \(seed) op \(op): \(label): buckets \(listed.map { TestBytes.hex($0) }), the model has \(expected.map { TestBytes.hex($0) })")
    }

    /// Every bucket's full contents, the bucket list, and missing buckets staying missing.
    private func verifyAll(_ op: Int, _ reader: ReadTransaction, _ model: Model, _ label: String) throws {
        try checkBucketNames(op, reader, model, label)
        for (b, name) in Self.names.enumerated() {
            guard let bucket = model[b] else {
                let cursor = reader.cursor(name)
                try #require(cursor == nil, "seed \(seed) op \(op): \(label): a cursor on missing bucket \(TestBytes.hex(name))")
                continue
            }
            let mismatch = reader.scanMismatch(name, expected: bucket.entries())
            try #require(mismatch == nil, "seed \(seed) op \(op): \(label): full scan of \(TestBytes.hex(name)): \(mismatch ?? "")")
        }
    }
}

/// What the model's walks need of a cursor: read transactions' and write transactions' alike.
protocol EntryCursor {
    func first() -> (key: [UInt8], value: [UInt8])?
    func last() -> (key: [UInt8], value: [UInt8])?
    func seek(_ key: [UInt8]) -> (key: [UInt8], value: [UInt8])?
    func next() -> (key: [UInt8], value: [UInt8])?
    func prev() -> (key: [UInt8], value: [UInt8])?
}

extension Cursor: EntryCursor {}
extension WriteCursor: EntryCursor {}

#if canImport(Glibc)
import Glibc
#endif
import KeelIO
@testable import KeelStorage
import KeelTestSupport
import Testing

/// Snapshot isolation: a read transaction sees exactly the version committed when it began,
/// however many commits happen meanwhile, on any thread, without taking a lock.
@Suite struct ReaderIsolationTests {
    static let bucket = Array("isolation".utf8)
    static let keySpace: [[UInt8]] = (0..<600).map { Array("key-\($0)".utf8) }

    /// Three reader threads scan the bucket twice in one transaction (with a pause between)
    /// and walk it once with a cursor, while the test thread commits 200 transactions of ~50
    /// changes and rolls back a few more. Every read must be identical within its transaction
    /// and equal to the state committed at its txid: the writer records each state's checksum,
    /// under its txid, before committing it.
    @Test func readersOnOtherThreadsSeeOnlyCommittedSnapshots() throws {
        let seed: UInt64 = 31
        print("ReaderIsolationTests seed \(seed)")
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StorageOptions()
        options.growthBytes = 256 << 10 // the file grows while readers walk it
        let db = try Database.open(path: directory.child("db"), options: options)
        var random = SeededGenerator(seed: seed)
        var model = SortedBucket()
        let board = IsolationBoard(database: db, bucket: Self.bucket)

        let setup = try db.beginWrite()
        try setup.createBucket(Self.bucket)
        for _ in 0..<300 { try Self.change(setup, &model, &random, deletes: false) }
        board.record(setup.txid, StateChecksum.of(model))
        try setup.commit()

        let readers = (0..<3).map { index in
            OSThread(name: "keel-test-reader-\(index)") { board.runReader(index, seed: seed &+ 1 &+ UInt64(index)) }
        }
        var writerError: (any Error)?
        do {
            try Self.commitMany(db, board, &model, &random)
        } catch {
            writerError = error
        }
        board.finish()
        for reader in readers { reader.join() }
        if let writerError { throw writerError }

        let summary = board.summary()
        print("ReaderIsolationTests seed \(seed): \(summary.reads) reads saw \(summary.distinctTxids) committed versions")
        #expect(summary.failures.isEmpty, "seed \(seed): \(summary.failureCount) failures:\n\(summary.failures.joined(separator: "\n"))")
        #expect(summary.reads >= 3, "seed \(seed): every reader read at least once")
        let problems = db.check()
        #expect(problems.isEmpty, "seed \(seed): \(problems.prefix(20))")
        let final = db.beginRead()
        let mismatch = final.scanMismatch(Self.bucket, expected: model.entries())
        final.end()
        #expect(mismatch == nil, "seed \(seed): the last commit: \(mismatch ?? "")")
        db.close()
    }

    /// 200 commits of 50 changes each; every 16th is preceded by a transaction of changes that
    /// is rolled back (its state, never committed, must never be read).
    static func commitMany(_ db: Database, _ board: IsolationBoard, _ model: inout SortedBucket,
                           _ random: inout SeededGenerator) throws {
        for transaction in 0..<200 {
            if transaction % 16 == 7 {
                let abandoned = try db.beginWrite()
                var scratch = model
                for _ in 0..<50 { try change(abandoned, &scratch, &random, deletes: true) }
                abandoned.rollback()
            }
            let tx = try db.beginWrite()
            var next = model
            for _ in 0..<50 { try change(tx, &next, &random, deletes: true) }
            board.record(tx.txid, StateChecksum.of(next)) // before commit: a reader may see it at once
            try tx.commit()
            model = next
        }
    }

    /// One random put (mostly small values, a few spanning several pages) or delete.
    static func change(_ tx: WriteTransaction, _ model: inout SortedBucket, _ random: inout SeededGenerator,
                       deletes: Bool) throws {
        let key = keySpace[Int.random(in: 0..<keySpace.count, using: &random)]
        if deletes && Int.random(in: 0..<10, using: &random) < 3 {
            try tx.delete(bucket, key)
            model.delete(key)
            return
        }
        let size = Int.random(in: 0..<40, using: &random) == 0
            ? Int.random(in: 5_000...40_000, using: &random)
            : Int.random(in: 0...400, using: &random)
        let value = TestBytes.random(count: size, using: &random)
        try tx.put(bucket, key, value)
        model.put(key, value)
    }

    /// Twenty snapshots held at once, each begun after a different commit that rewrote most of
    /// the bucket, then ended in a scrambled order between more commits (which reuse the pages
    /// the ended ones released): each still reads exactly its own version.
    @Test func heldSnapshotsOutliveManyCommits() throws {
        let seed: UInt64 = 32
        print("ReaderIsolationTests seed \(seed)")
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let db = try Database.open(path: directory.child("db"))
        var random = SeededGenerator(seed: seed)
        var model = SortedBucket()
        var held: [(reader: ReadTransaction, model: SortedBucket)] = []
        let setup = try db.beginWrite()
        try setup.createBucket(Self.bucket)
        try setup.commit()
        for _ in 0..<20 {
            let tx = try db.beginWrite()
            for _ in 0..<200 { try Self.change(tx, &model, &random, deletes: true) }
            try tx.commit()
            held.append((db.beginRead(), model))
        }
        var order = Array(held.indices)
        order.shuffle(using: &random)
        for (step, index) in order.enumerated() {
            let (reader, expected) = held[index]
            let mismatch = reader.scanMismatch(Self.bucket, expected: expected.entries())
            #expect(mismatch == nil, "seed \(seed) step \(step): the snapshot at txid \(reader.txid): \(mismatch ?? "")")
            reader.end()
            let tx = try db.beginWrite()
            for _ in 0..<100 { try Self.change(tx, &model, &random, deletes: true) }
            try tx.commit()
            let problems = db.check()
            #expect(problems.isEmpty, "seed \(seed) step \(step): \(problems.prefix(20))")
        }
        let final = db.beginRead()
        let mismatch = final.scanMismatch(Self.bucket, expected: model.entries())
        final.end()
        #expect(mismatch == nil, "seed \(seed): the last commit: \(mismatch ?? "")")
        db.close()
    }
}

/// A checksum of a bucket's entries in key order (each length-prefixed key and value, one
/// running CRC32C), with the entry count.
struct StateChecksum: Hashable, Sendable, CustomStringConvertible {
    private(set) var crc: UInt32 = 0
    private(set) var count = 0

    mutating func add(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        let lengths = (UInt32(key.count).littleEndian, UInt32(value.count).littleEndian)
        crc = withUnsafeBytes(of: lengths) { CRC32C.checksum($0, continuing: crc) }
        crc = CRC32C.checksum(key, continuing: crc)
        crc = CRC32C.checksum(value, continuing: crc)
        count += 1
    }

    static func of(_ model: SortedBucket) -> StateChecksum {
        var sum = StateChecksum()
        for key in model.keys {
            let value = model.values[key]!
            key.withUnsafeBytes { key in value.withUnsafeBytes { sum.add(key, $0) } }
        }
        return sum
    }

    var description: String { "\(count) entries, crc32c \(String(crc, radix: 16))" }
}

/// What the writer and the reader threads share: the checksum committed at each txid, whether
/// the writer is done, and what the readers found.
final class IsolationBoard: @unchecked Sendable {
    static let readsMax = 50_000
    static let failuresKept = 20

    let database: Database
    let bucket: [UInt8]
    private let lock = ConditionLock()
    private var committed: [TxID: StateChecksum] = [:]
    private var finished = false
    private var failures: [String] = []
    private var failureCount = 0
    private var reads = 0
    private var txidsSeen = Set<TxID>()

    init(database: Database, bucket: [UInt8]) {
        self.database = database
        self.bucket = bucket
    }

    func record(_ txid: TxID, _ checksum: StateChecksum) { lock.withLock { committed[txid] = checksum } }
    func finish() { lock.withLock { finished = true } }
    private var isFinished: Bool { lock.withLock { finished } }

    func summary() -> (reads: Int, distinctTxids: Int, failures: [String], failureCount: Int) {
        lock.withLock { (reads, txidsSeen.count, failures, failureCount) }
    }

    /// Reads until the writer is done, then once more (bounded by `readsMax` either way).
    func runReader(_ index: Int, seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        for iteration in 0..<Self.readsMax {
            let last = isFinished
            readOnce(index, iteration, &random)
            if last { return }
        }
    }

    private func readOnce(_ index: Int, _ iteration: Int, _ random: inout SeededGenerator) {
        let reader = database.beginRead()
        let txid = reader.txid
        let first = scanChecksum(reader)
        pause(&random)
        let second = scanChecksum(reader)
        let walked = cursorChecksum(reader)
        reader.end()
        var problems: [String] = []
        let context = "reader \(index) read \(iteration) at txid \(txid)"
        if first != second || first != walked {
            problems.append("\(context): one transaction read \(first), then \(second), then by cursor \(walked)")
        }
        lock.withLock {
            reads += 1
            txidsSeen.insert(txid)
            if let recorded = committed[txid] {
                if recorded != first { problems.append("\(context): read \(first), but the state committed there is \(recorded)") }
            } else {
                problems.append("\(context): no commit had that txid")
            }
            failureCount += problems.count
            failures += problems.prefix(max(0, Self.failuresKept - failures.count))
        }
    }

    /// None, a few yields, or a sleep of up to 2 ms: commits happen during some of them.
    private func pause(_ random: inout SeededGenerator) {
        switch Int.random(in: 0..<4, using: &random) {
        case 0: break
        case 1: for _ in 0..<Int.random(in: 1...20, using: &random) { sched_yield() }
        default: usleep(UInt32.random(in: 100...2_000, using: &random))
        }
    }

    private func scanChecksum(_ reader: ReadTransaction) -> StateChecksum {
        var sum = StateChecksum()
        reader.scan(bucket) { key, value in
            sum.add(key, value)
            return true
        }
        return sum
    }

    private func cursorChecksum(_ reader: ReadTransaction) -> StateChecksum {
        var sum = StateChecksum()
        guard let cursor = reader.cursor(bucket) else { return sum }
        var entry = cursor.first()
        while let current = entry {
            current.key.withUnsafeBytes { key in current.value.withUnsafeBytes { sum.add(key, $0) } }
            entry = cursor.next()
        }
        return sum
    }
}

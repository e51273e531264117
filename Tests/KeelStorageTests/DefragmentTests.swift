import KeelIO
@testable import KeelStorage
import KeelTestSupport
import Testing

@Suite struct DefragmentTests {
    static let bucket = Array("key".utf8)


    static func key(_ i: Int) -> [UInt8] { Array("key-\(1_000_000 + i)".utf8) }

    @Test func shrinksTheFileAndKeepsEveryKey() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        var options = StorageOptions()
        options.growthBytes = 64 << 10
        let db = try Database.open(path: path, options: options)
        let fill = try db.beginWrite()
        try fill.createBucket(Self.bucket)
        try fill.createBucket(Array("meta".utf8))
        try fill.put(Array("meta".utf8), Array("consistent_index".utf8), [1, 2, 3])
        for i in 0..<20_000 { try fill.put(Self.bucket, Self.key(i), [UInt8](repeating: UInt8(i % 256), count: 200)) }
        try fill.commit()
        let thin = try db.beginWrite()
        for i in 0..<20_000 where i % 10 != 0 { try thin.delete(Self.bucket, Self.key(i)) }
        try thin.commit()
        let before = db.contents(Self.bucket)
        let sizeBefore = db.stats.fileBytes
        let txidBefore = db.meta.txid

        try db.defragment()

        #expect(db.check() == [])
        #expect(db.contents(Self.bucket) == before)
        #expect(db.contents(Array("meta".utf8)) == [Array("consistent_index".utf8): [1, 2, 3]])
        #expect(db.stats.fileBytes < sizeBefore / 4, "\(db.stats.fileBytes) bytes after, \(sizeBefore) before")
        #expect(db.meta.txid > txidBefore, "txids go on across the switch")
        #expect(TestFiles.read(path).count == db.stats.fileBytes, "the new file has the database's name")
        // Writes go to the new file and survive a reopen.
        let more = try db.beginWrite()
        try more.put(Self.bucket, Self.key(5), [5])
        try more.commit()
        db.close()
        let reopened = try Database.open(path: path, options: options)
        #expect(reopened.check() == [])
        var expected = before
        expected[Self.key(5)] = [5]
        #expect(reopened.contents(Self.bucket) == expected)
        #expect(try Syscalls.listDirectory(directory.path) == ["db"], "no file left behind")
    }

    /// A copy made while a write transaction is open holds the last commit only, opens as a
    /// database of its own, and is cut to the pages it uses.
    @Test func writeCopyHoldsTheLastCommitInAFileOfItsPages() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let db = try Database.open(path: directory.child("db"))
        let fill = try db.beginWrite()
        try fill.createBucket(Self.bucket)
        for i in 0..<3_000 { try fill.put(Self.bucket, Self.key(i), [UInt8](repeating: UInt8(i % 256), count: 100)) }
        try fill.commit()
        let committed = db.contents(Self.bucket)
        let open = try db.beginWrite()
        try open.put(Self.bucket, Self.key(99_999), [9])

        try db.writeCopy(to: directory.child("copy"))
        open.rollback()

        let copy = try Database.open(path: directory.child("copy"))
        defer { copy.close() }
        #expect(copy.check() == [])
        #expect(copy.contents(Self.bucket) == committed)
        let pages = copy.stats.pageCount
        #expect(TestFiles.read(directory.child("copy")).count == Int(pages) * 4096)
        #expect(copy.stats.fileBytes < db.stats.fileBytes)
        db.close()
    }

    /// Readers that began before the switch keep their snapshot (on the old file) after it;
    /// writers committing while the copy is made lose nothing.
    @Test func readersAndWritersCarryOnDuringTheCopy() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        let db = try Database.open(path: path)
        let fill = try db.beginWrite()
        try fill.createBucket(Self.bucket)
        for i in 0..<30_000 { try fill.put(Self.bucket, Self.key(i), [UInt8](repeating: 1, count: 100)) }
        try fill.commit()
        let early = db.beginRead()
        let earlyContents = db.contents(Self.bucket)

        // A writer commits small changes in a loop while the defragmentation runs.
        let model = WriterModel(earlyContents)
        let writer = OSThread(name: "writer") {
            var round = 0
            while !model.stopRequested && round < 2_000 {
                do {
                    let tx = try db.beginWrite()
                    var changes: [([UInt8], [UInt8]?)] = []
                    for j in 0..<20 {
                        let key = Self.key((round * 37 + j * 1009) % 40_000)
                        if j % 4 == 0 {
                            try tx.delete(Self.bucket, key)
                            changes.append((key, nil))
                        } else {
                            let value = [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: 50)
                            try tx.put(Self.bucket, key, value)
                            changes.append((key, value))
                        }
                    }
                    try tx.commit()
                    model.apply(changes)
                } catch {
                    model.fail("\(error)")
                    return
                }
                round += 1
            }
        }
        try db.defragment()
        model.requestStop()
        writer.join()
        #expect(model.failure == nil)
        #expect(model.rounds > 0)

        // The early reader still sees exactly what it saw, through the old file.
        var seen: [[UInt8]: [UInt8]] = [:]
        early.scan(Self.bucket) { key, value in
            seen[[UInt8](key)] = [UInt8](value)
            return true
        }
        #expect(seen == earlyContents)
        early.end()
        #expect(db.check() == [])
        #expect(db.contents(Self.bucket) == model.state)
        db.close()
        let reopened = try Database.open(path: path)
        #expect(reopened.contents(Self.bucket) == model.state)
    }
}

/// What the writer thread committed, shared with the test.
final class WriterModel: @unchecked Sendable {
    private let lock = ConditionLock()
    private var contents: [[UInt8]: [UInt8]]
    private var stop = false
    private var error: String?
    private var count = 0

    init(_ contents: [[UInt8]: [UInt8]]) { self.contents = contents }

    func apply(_ changes: [([UInt8], [UInt8]?)]) {
        lock.withLock {
            for (key, value) in changes { contents[key] = value }
            count += 1
        }
    }

    func fail(_ reason: String) { lock.withLock { error = reason } }
    func requestStop() { lock.withLock { stop = true } }
    var stopRequested: Bool { lock.withLock { stop } }
    var failure: String? { lock.withLock { error } }
    var rounds: Int { lock.withLock { count } }
    var state: [[UInt8]: [UInt8]] { lock.withLock { contents } }
}

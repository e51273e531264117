@testable import KeelStorage
import KeelTestSupport
import Testing

@Suite struct StorageSmokeTests {
    @Test func putGetCommitReopen() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        do {
            let db = try Database.open(path: path)
            let tx = try db.beginWrite()
            try tx.createBucket(Array("key".utf8))
            for i in 0..<3000 {
                try tx.put(Array("key".utf8), Array("k\(100000 + i)".utf8), [UInt8](repeating: UInt8(i % 251), count: i % 300))
            }
            try tx.commit()
            #expect(db.check() == [])
            let read = db.beginRead()
            #expect(read.get(Array("key".utf8), Array("k100042".utf8)) == [UInt8](repeating: 42, count: 42))
            #expect(read.withValue(Array("key".utf8), Array("k100042".utf8)) { $0.map { [UInt8]($0) } } == [UInt8](repeating: 42, count: 42))
            #expect(read.withValue(Array("key".utf8), Array("absent".utf8)) { $0 == nil })
            #expect(read.withValue(Array("nobucket".utf8), Array("k100042".utf8)) { $0 == nil })
            var count = 0
            read.scan(Array("key".utf8)) { _, _ in count += 1; return true }
            #expect(count == 3000)
            read.end()
            let tx2 = try db.beginWrite()
            for i in stride(from: 0, to: 3000, by: 2) { try tx2.delete(Array("key".utf8), Array("k\(100000 + i)".utf8)) }
            try tx2.put(Array("key".utf8), Array("big".utf8), [UInt8](repeating: 9, count: 2 << 20))
            try tx2.commit()
            #expect(db.check() == [])
            db.close()
            #expect(throws: StorageError.databaseClosed) { _ = try db.beginWrite() }
        }
        let db = try Database.open(path: path)
        #expect(db.check() == [])
        let read = db.beginRead()
        #expect(read.get(Array("key".utf8), Array("k100042".utf8)) == nil)
        #expect(read.get(Array("key".utf8), Array("k100043".utf8)) == [UInt8](repeating: 43, count: 43))
        #expect(read.get(Array("key".utf8), Array("big".utf8))?.count == 2 << 20)
        let cursor = try #require(read.cursor(Array("key".utf8)))
        var keys: [[UInt8]] = []
        var entry = cursor.first()
        while let current = entry { keys.append(current.key); entry = cursor.next() }
        #expect(keys.count == 1501)
        #expect(keys == keys.sorted { compareKeys($0, $1) < 0 })
        read.end()
    }
}

import KeelIO
@testable import KeelStorage
import KeelTestSupport
import Testing

@Suite struct DatabaseFileTests {
    @Test func createsAndReopensAnEmptyDatabase() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        let created = try Database.open(path: path)
        #expect(created.meta == Meta(pageSize: 4096, txid: TxID(1), root: PageID(0), pageCount: 2))
        #expect(created.fileBytes == 2 * Database.pageSize)
        let reopened = try Database.open(path: path)
        #expect(reopened.meta == created.meta)
        #expect(TestFiles.read(path).count == 8192)
    }

    @Test func anEmptyFileBecomesADatabase() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        TestFiles.write(directory.child("db"), [])
        #expect(try Database.open(path: directory.child("db")).meta.txid == TxID(1))
    }

    @Test func aShortFileIsRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        TestFiles.write(path, [UInt8](repeating: 7, count: 1000))
        let error = #expect(throws: StorageError.self) { _ = try Database.open(path: path) }
        #expect(error == .notADatabase(path: path, reason: "the file is 1000 bytes, shorter than its two 4096-byte meta pages"))
        #expect(TestFiles.read(path) == [UInt8](repeating: 7, count: 1000), "a refused file is left as it was")
    }

    @Test func garbageIsRefusedWithTheReasonForEachMetaPage() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        var random = SeededGenerator(seed: 3)
        TestFiles.write(path, (0..<(3 * 4096)).map { _ in UInt8.random(in: 0...255, using: &random) })
        let error = #expect(throws: StorageError.self) { _ = try Database.open(path: path) }
        #expect(error == .notADatabase(path: path, reason: "no valid meta page (page 0: no Keel magic number; page 1: no Keel magic number)"))
    }

    @Test func aDamagedMetaPageFallsBackToTheOther() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        _ = try Database.open(path: path)
        var bytes = TestFiles.read(path)
        bytes[4096 + 20] ^= 0x40 // inside meta page 1's root field
        TestFiles.write(path, bytes)
        #expect(try Database.open(path: path).meta.txid == TxID(0), "meta 1 is damaged: meta 0 is used")
        bytes[30] ^= 0x01 // and meta page 0
        TestFiles.write(path, bytes)
        let error = #expect(throws: StorageError.self) { _ = try Database.open(path: path) }
        #expect(error == .notADatabase(path: path, reason: "no valid meta page (page 0: checksum mismatch; page 1: checksum mismatch)"))
    }

    @Test func aMetaClaimingMorePagesThanTheFileIsNotUsed() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        _ = try Database.open(path: path)
        var bytes = TestFiles.read(path)
        let lying = Meta(pageSize: 4096, txid: TxID(3), root: PageID(0), pageCount: 50)
        bytes.withUnsafeMutableBytes { lying.encode(to: $0.baseAddress! + 4096) }
        TestFiles.write(path, bytes)
        #expect(try Database.open(path: path).meta.txid == TxID(0))
    }

    @Test func growthMapsNewPagesWithoutMovingTheOldOnes() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StorageOptions()
        options.growthBytes = 1 << 20
        let database = try Database.open(path: directory.child("db"), options: options)
        let before = database.pageBytes(PageID(0)).baseAddress
        try database.grow(toPages: 1000)
        #expect(database.fileBytes == 4 << 20, "1000 pages round up to four 1 MiB steps")
        #expect(database.pageBytes(PageID(0)).baseAddress == before)
        let marker = [UInt8](repeating: 0xA5, count: 4096)
        try marker.withUnsafeBytes { try database.store.file.writeAndSync($0, at: 999 * 4096) }
        #expect(Array(database.pageBytes(PageID(999))) == marker, "written through the file, read through the mapping")
        #expect(Array(database.pageBytes(PageID(998))) == [UInt8](repeating: 0, count: 4096))
    }

    @Test func growingPastTheReserveIsATypedError() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = StorageOptions()
        options.reservedBytes = 1 << 20
        options.growthBytes = 256 << 10
        let path = directory.child("db")
        let database = try Database.open(path: path, options: options)
        try database.grow(toPages: 200)
        #expect(throws: StorageError.reserveExhausted(path: path, neededBytes: 5 << 18, reservedBytes: 1 << 20)) {
            try database.grow(toPages: 257)
        }
    }
}

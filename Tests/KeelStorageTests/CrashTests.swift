@testable import KeelStorage
import KeelIO
import KeelTestSupport
import Testing

/// A commit writes new pages (never ones the committed version reaches), fdatasync, then the
/// meta page, fdatasync. A crash at any point leaves some of those writes on disk, possibly
/// torn. These tests build every such file from the images before and after a commit and
/// check that reopening yields exactly the last committed state, with a clean checker.
@Suite struct CrashTests {
    static let bucket = Array("b".utf8)


    static func reopen(_ path: String, _ bytes: [UInt8]) throws -> (contents: [[UInt8]: [UInt8]], problems: [String]) {
        TestFiles.write(path, bytes)
        let db = try Database.open(path: path)
        defer { db.close() }
        return (db.contents(bucket), db.check())
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func everyCrashDuringACommitRecoversTheLastCommit(seed: UInt64) throws {
        print("CrashTests seed \(seed)")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("db")
        let crashPath = directory.child("crash")
        var options = StorageOptions()
        options.growthBytes = 64 << 10
        for round in 0..<6 {
            // One commit of random changes, with the file captured before and after.
            let db = try Database.open(path: path, options: options)
            let before = TestFiles.read(path)
            let oldState = db.contents(Self.bucket)
            let tx = try db.beginWrite()
            try tx.createBucket(Self.bucket)
            for _ in 0..<Int.random(in: 20...400, using: &random) {
                let key = Array("k\(Int.random(in: 0..<2000, using: &random))".utf8)
                if Int.random(in: 0..<4, using: &random) == 0 {
                    try tx.delete(Self.bucket, key)
                } else {
                    try tx.put(Self.bucket, key, [UInt8](repeating: UInt8.random(in: 0...255, using: &random), count: Int.random(in: 0...600, using: &random)))
                }
            }
            try tx.commit()
            let newState = db.contents(Self.bucket)
            db.close()
            let after = TestFiles.read(path)
            let pageSize = Database.pageSize
            let changed = (0..<after.count / pageSize).filter { page in
                let range = page * pageSize..<(page + 1) * pageSize
                return page >= before.count / pageSize || after[range] != before[range]
            }
            let metaPage = changed.first { $0 < 2 }
            let dataPages = changed.filter { $0 >= 2 }
            #expect(metaPage != nil && !dataPages.isEmpty, "seed \(seed) round \(round): a commit writes pages and one meta page")

            func image(data: [Int], tornData: Int?, metaBytes: Int) -> [UInt8] {
                var bytes = before + [UInt8](repeating: 0, count: after.count - before.count)
                for page in data { bytes.replaceSubrange(page * pageSize..<(page + 1) * pageSize, with: after[page * pageSize..<(page + 1) * pageSize]) }
                if let torn = tornData {
                    let cut = Int.random(in: 1..<pageSize, using: &random)
                    bytes.replaceSubrange(torn * pageSize..<torn * pageSize + cut, with: after[torn * pageSize..<torn * pageSize + cut])
                }
                if let meta = metaPage, metaBytes > 0 {
                    bytes.replaceSubrange(meta * pageSize..<meta * pageSize + metaBytes, with: after[meta * pageSize..<meta * pageSize + metaBytes])
                }
                return bytes
            }
            // Crashes before the meta page: any subset of the new pages, one of them torn.
            for _ in 0..<25 {
                let subset = dataPages.filter { _ in Bool.random(using: &random) }
                let torn = dataPages.randomElement(using: &random)
                let recovered = try Self.reopen(crashPath, image(data: subset, tornData: torn, metaBytes: 0))
                #expect(recovered.contents == oldState, "seed \(seed) round \(round): crash before the meta page")
                #expect(recovered.problems == [], "seed \(seed) round \(round)")
            }
            // Crashes while the meta page is written: every tear point of its 64 used bytes. Once
            // the first 60 (every field and the checksum) are down, the commit is complete.
            for metaBytes in 1..<64 {
                let recovered = try Self.reopen(crashPath, image(data: dataPages, tornData: nil, metaBytes: metaBytes))
                #expect(recovered.contents == (metaBytes >= 60 ? newState : oldState), "seed \(seed) round \(round): meta torn at \(metaBytes)")
                #expect(recovered.problems == [])
            }
            // After the meta page's fdatasync: the new state.
            let recovered = try Self.reopen(crashPath, image(data: dataPages, tornData: nil, metaBytes: pageSize))
            #expect(recovered.contents == newState, "seed \(seed) round \(round): completed commit")
            #expect(recovered.problems == [])
        }
    }
}

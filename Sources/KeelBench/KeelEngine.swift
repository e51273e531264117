import KeelStorage

/// Keel's B+tree (KeelStorage) with default `StorageOptions`, every key in one bucket.
final class KeelEngine: StorageEngine, Sendable {
    static let name = "Keel"
    static let bucket: [UInt8] = Array("key".utf8)

    let dataPath: String
    private let database: Database

    /// Opens (creating) the database at `path` and creates the bucket in a first commit.
    init(path: String) throws(BenchFailure) {
        do {
            database = try Database.open(path: path, options: StorageOptions())
            let transaction = try database.beginWrite()
            try transaction.createBucket(Self.bucket)
            try transaction.commit()
        } catch {
            throw BenchFailure("keel: opening \(path): \(error)")
        }
        dataPath = path
    }

    var summary: String {
        let options = StorageOptions()
        return "KeelStorage, default options (reserve \(options.reservedBytes >> 30) GiB, growth \(options.growthBytes >> 20) MiB, commit I/O \(options.backend))"
    }

    func beginWrite() throws(BenchFailure) -> Writer {
        do {
            return Writer(transaction: try database.beginWrite())
        } catch {
            throw BenchFailure("keel: beginWrite: \(error)")
        }
    }

    func beginRead() -> Reader { Reader(transaction: database.beginRead()) }

    func close() { database.close() }

    struct Writer: StorageEngineWriter {
        let transaction: WriteTransaction

        func put(_ key: [UInt8], _ value: [UInt8]) throws(BenchFailure) {
            do {
                try transaction.put(KeelEngine.bucket, key, value)
            } catch {
                throw BenchFailure("keel: put: \(error)")
            }
        }

        func commit() throws(BenchFailure) {
            do {
                try transaction.commit()
            } catch {
                throw BenchFailure("keel: commit: \(error)")
            }
        }
    }

    struct Reader: StorageEngineReader {
        let transaction: ReadTransaction

        /// Reads the value in place (`withValue`), as LMDB's mdb_get does: no copy.
        func firstValueByte(_ key: [UInt8]) -> UInt8? {
            transaction.withValue(KeelEngine.bucket, key) { value in value.map { $0.first ?? 0 } }
        }

        func scan(_ body: (UInt8) -> Void) -> Int {
            var keys = 0
            transaction.scan(KeelEngine.bucket) { _, value in
                body(value.first ?? 0)
                keys += 1
                return true
            }
            return keys
        }

        func end() { transaction.end() }
    }
}

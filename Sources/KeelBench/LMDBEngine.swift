import CLMDB

/// LMDB (Debian's liblmdb) as the reference B+tree: one environment in one file, every key
/// in one named database "key". The one file of keel-bench that calls liblmdb; every return
/// code is checked and turned into a readable `BenchFailure`.
///
/// Settings chosen to match how Keel runs: commits are durable (no MDB_NOSYNC, no
/// MDB_NOMETASYNC: data pages, fdatasync, meta page, sync), the map is reserved once, and
/// MDB_NOTLS ties read transactions to the transaction rather than to the thread, so that
/// each reader thread may begin and end its own as Keel's readers do.
final class LMDBEngine: StorageEngine, @unchecked Sendable {
    static let name = "LMDB"
    /// Address space of the map (and the most the file may grow to). 8 GiB holds the default
    /// million keys many times over; a larger --keys that fills it fails with MDB_MAP_FULL.
    static let mapBytes = 8 << 30
    static let databaseName = "key"

    let dataPath: String
    // Immutable after init; LMDB's environment is safe to share between threads.
    private let environment: OpaquePointer
    private let database: MDB_dbi

    /// Creates the environment at `path` (a single file, MDB_NOSUBDIR, plus `path-lock`) and
    /// the named database in a first commit.
    init(path: String) throws(BenchFailure) {
        var created: OpaquePointer?
        try Self.check(mdb_env_create(&created), "mdb_env_create")
        guard let environment = created else { throw BenchFailure("lmdb: mdb_env_create returned no environment") }
        do {
            try Self.check(mdb_env_set_mapsize(environment, Self.mapBytes), "mdb_env_set_mapsize(\(Self.mapBytes))")
            try Self.check(mdb_env_set_maxdbs(environment, 1), "mdb_env_set_maxdbs")
            let flags = UInt32(MDB_NOSUBDIR) | UInt32(MDB_NOTLS)
            try Self.check(mdb_env_open(environment, path, flags, 0o600), "mdb_env_open(\(path))")
            var transaction: OpaquePointer?
            try Self.check(mdb_txn_begin(environment, nil, 0, &transaction), "mdb_txn_begin (creating the database)")
            var handle: MDB_dbi = 0
            let opened = mdb_dbi_open(transaction, Self.databaseName, UInt32(MDB_CREATE), &handle)
            guard opened == MDB_SUCCESS else {
                mdb_txn_abort(transaction)
                try Self.check(opened, "mdb_dbi_open(\(Self.databaseName))")
                preconditionFailure("unreachable")
            }
            try Self.check(mdb_txn_commit(transaction), "mdb_txn_commit (creating the database)")
            database = handle
        } catch {
            mdb_env_close(environment)
            throw error
        }
        self.environment = environment
        self.dataPath = path
    }

    var summary: String {
        let version = String(cString: mdb_version(nil, nil, nil))
        return "\(version), map \(Self.mapBytes >> 30) GiB, MDB_NOSUBDIR | MDB_NOTLS, durable commits"
    }

    func beginWrite() throws(BenchFailure) -> Writer {
        var transaction: OpaquePointer?
        try Self.check(mdb_txn_begin(environment, nil, 0, &transaction), "mdb_txn_begin")
        return Writer(transaction: transaction!, database: database)
    }

    func beginRead() throws(BenchFailure) -> Reader {
        var transaction: OpaquePointer?
        try Self.check(mdb_txn_begin(environment, nil, UInt32(MDB_RDONLY), &transaction), "mdb_txn_begin(MDB_RDONLY)")
        return Reader(transaction: transaction!, database: database)
    }

    func close() { mdb_env_close(environment) }

    /// Throws unless `code` is MDB_SUCCESS, with LMDB's own text for the code.
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(BenchFailure) {
        guard code != MDB_SUCCESS else { return }
        var text = "lmdb: \(operation()): \(String(cString: mdb_strerror(code))) (\(code))"
        if code == MDB_MAP_FULL { text += "; the \(mapBytes >> 30) GiB map is full, run with fewer --keys or smaller values" }
        throw BenchFailure(text)
    }

    /// Runs `body` with an MDB_val that points at `bytes`; LMDB only reads through it.
    private static func withValue<T>(_ bytes: [UInt8], _ body: (inout MDB_val) -> T) -> T {
        bytes.withUnsafeBytes { raw in
            var value = MDB_val(mv_size: raw.count, mv_data: UnsafeMutableRawPointer(mutating: raw.baseAddress))
            return body(&value)
        }
    }

    struct Writer: StorageEngineWriter {
        let transaction: OpaquePointer
        let database: MDB_dbi

        func put(_ key: [UInt8], _ value: [UInt8]) throws(BenchFailure) {
            let code = LMDBEngine.withValue(key) { (keyValue: inout MDB_val) -> Int32 in
                LMDBEngine.withValue(value) { (dataValue: inout MDB_val) -> Int32 in
                    mdb_put(transaction, database, &keyValue, &dataValue, 0)
                }
            }
            guard code == MDB_SUCCESS else {
                mdb_txn_abort(transaction)
                try LMDBEngine.check(code, "mdb_put")
                return
            }
        }

        /// mdb_txn_commit frees the transaction whether or not it succeeds.
        func commit() throws(BenchFailure) {
            try LMDBEngine.check(mdb_txn_commit(transaction), "mdb_txn_commit")
        }
    }

    /// Holds its read transaction until `end`; with MDB_NOTLS it needs no thread-local slot.
    final class Reader: StorageEngineReader {
        private var transaction: OpaquePointer?
        let database: MDB_dbi

        init(transaction: OpaquePointer, database: MDB_dbi) {
            self.transaction = transaction
            self.database = database
        }

        deinit { end() }

        /// Reads one byte of the value where it lies in the map: no copy.
        func firstValueByte(_ key: [UInt8]) throws(BenchFailure) -> UInt8? {
            var data = MDB_val()
            let code = LMDBEngine.withValue(key) { (keyValue: inout MDB_val) -> Int32 in
                mdb_get(transaction, database, &keyValue, &data)
            }
            if code == MDB_NOTFOUND { return nil }
            try LMDBEngine.check(code, "mdb_get")
            guard data.mv_size > 0, let bytes = data.mv_data else { return 0 }
            return bytes.load(as: UInt8.self)
        }

        func scan(_ body: (UInt8) -> Void) throws(BenchFailure) -> Int {
            var cursor: OpaquePointer?
            try LMDBEngine.check(mdb_cursor_open(transaction, database, &cursor), "mdb_cursor_open")
            defer { mdb_cursor_close(cursor) }
            var key = MDB_val()
            var data = MDB_val()
            var keys = 0
            var code = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)
            while code == MDB_SUCCESS {
                body(data.mv_size > 0 ? data.mv_data!.load(as: UInt8.self) : 0)
                keys += 1
                code = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)
            }
            if code != MDB_NOTFOUND { try LMDBEngine.check(code, "mdb_cursor_get") }
            return keys
        }

        func end() {
            if let transaction { mdb_txn_abort(transaction) }
            transaction = nil
        }
    }
}

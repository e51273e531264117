/// A key-value store `keel-bench storage` can drive: one keyspace in one file, one writer at a
/// time, any number of concurrent readers. The workloads are generic over it, so each engine's
/// calls are specialised and inlined into the measured loops rather than dispatched.
protocol StorageEngine: AnyObject, Sendable {
    associatedtype Writer: StorageEngineWriter
    associatedtype Reader: StorageEngineReader

    /// "Keel", "LMDB": the column titles of the report.
    static var name: String { get }
    /// Version and settings, for the report's header.
    var summary: String { get }
    /// The file holding the data, whose size the report shows.
    var dataPath: String { get }

    /// Begins the write transaction. Only one is open at a time, always on the calling thread.
    func beginWrite() throws(BenchFailure) -> Writer
    /// Begins a read transaction that may be used on the calling thread only, while others
    /// run on other threads.
    func beginRead() throws(BenchFailure) -> Reader
    /// Releases the engine; every transaction has ended.
    func close()
}

protocol StorageEngineWriter {
    /// Inserts or replaces `key`.
    func put(_ key: [UInt8], _ value: [UInt8]) throws(BenchFailure)
    /// Makes the transaction durable: when it returns, the data and the commit record were
    /// written and fdatasync'd.
    func commit() throws(BenchFailure)
}

protocol StorageEngineReader {
    /// The first byte of the value under `key`, nil when there is no such key. Only one byte is
    /// read so that the lookup, not a copy of the value, is what is measured (an engine whose
    /// API copies the value pays for that copy).
    func firstValueByte(_ key: [UInt8]) throws(BenchFailure) -> UInt8?
    /// Visits every key in key order, handing `body` the first byte of its value (0 for an
    /// empty value); returns how many keys there were.
    func scan(_ body: (UInt8) -> Void) throws(BenchFailure) -> Int
    /// Ends the transaction. Idempotent.
    func end()
}

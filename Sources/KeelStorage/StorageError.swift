import KeelIO

/// Why the storage engine could not do what was asked.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file system refused an operation.
    case io(IOError)
    /// The file is not a Keel database, or not one this version can read.
    case notADatabase(path: String, reason: String)
    /// The file would outgrow the address space reserved for its mapping.
    case reserveExhausted(path: String, neededBytes: Int, reservedBytes: Int)
    /// No bucket has that name.
    case bucketNotFound([UInt8])
    /// A key is empty or too long, or a value too large.
    case invalidKey(String)
    /// The transaction was already committed or rolled back.
    case transactionClosed
    /// The database was closed.
    case databaseClosed
    /// An earlier commit failed while writing; the database accepts no more writes. Reopen it
    /// to recover the last committed state.
    case failed(String)

    public var description: String {
        switch self {
        case .io(let error): return "storage: \(error)"
        case .notADatabase(let path, let reason): return "storage: \(path) is not a Keel database: \(reason)"
        case .reserveExhausted(let path, let needed, let reserved):
            return "storage: \(path) needs \(needed) bytes of mapping but only \(reserved) are reserved; reopen with a larger reserve"
        case .bucketNotFound(let name): return "storage: bucket \(String(decoding: name, as: UTF8.self)) not found"
        case .invalidKey(let reason): return "storage: \(reason)"
        case .transactionClosed: return "storage: the transaction is closed"
        case .databaseClosed: return "storage: the database is closed"
        case .failed(let reason): return "storage: stopped after a failed commit; reopen to recover (\(reason))"
        }
    }
}

import KeelIO

/// Why the storage engine could not do what was asked.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file system refused an operation.
    case io(IOError)
    /// The file is not a Keel database, or not one this version can read.
    case notADatabase(path: String, reason: String)
    /// The file would outgrow the address space reserved for its mapping.
    case reserveExhausted(path: String, neededBytes: Int, reservedBytes: Int)

    public var description: String {
        switch self {
        case .io(let error): return "storage: \(error)"
        case .notADatabase(let path, let reason): return "storage: \(path) is not a Keel database: \(reason)"
        case .reserveExhausted(let path, let needed, let reserved):
            return "storage: \(path) needs \(needed) bytes of mapping but only \(reserved) are reserved; reopen with a larger reserve"
        }
    }
}

import KeelIO

/// Why a WAL operation failed.
public enum WALError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file system refused an operation (open, write, fdatasync, ...).
    case io(IOError)
    /// A record before the tail of the log does not verify: the WAL refuses to open rather
    /// than return it or silently drop what follows.
    case corrupt(segment: String, offset: Int64, reason: String)
    /// The segments do not form one log (a missing segment, a gap in the entries).
    case inconsistent(String)
    /// An earlier write or fdatasync failed; the WAL accepts nothing more. The node must
    /// restart and recover from what is on disk.
    case failed(IOError)
    /// One record is larger than the format allows.
    case recordTooLarge(bytes: Int, limit: Int)
    /// The WAL was closed.
    case closed

    public var description: String {
        switch self {
        case .io(let error): return "wal: \(error)"
        case .corrupt(let segment, let offset, let reason):
            return "wal: corrupt record in \(segment) at offset \(offset): \(reason)"
        case .inconsistent(let reason): return "wal: \(reason)"
        case .failed(let error): return "wal: stopped after a failed write; restart to recover (\(error))"
        case .recordTooLarge(let bytes, let limit): return "wal: record of \(bytes) bytes exceeds the limit of \(limit)"
        case .closed: return "wal: closed"
        }
    }
}


/// An operating error from the file layer: which call failed, with which errno, on which path
/// and at which offset. Every KeelIO error is one of these; callers above wrap it with their
/// own context (which segment, which record) but never lose it.
public struct IOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The system call or step that failed ("open", "fdatasync", "io_uring_setup", ...).
    public var operation: String
    public var errno: Errno
    public var path: String
    /// The file offset the operation targeted, when it had one.
    public var offset: Int64?

    public init(operation: String, errno: Errno, path: String, offset: Int64? = nil) {
        self.operation = operation
        self.errno = errno
        self.path = path
        self.offset = offset
    }

    /// True for the errors that mean "the disk cannot take this", as opposed to a bug or a
    /// vanished device: the operator can act on them (free space, raise a limit).
    public var isResourceExhausted: Bool {
        errno == .noSpace || errno == .fileTooLarge || errno == .diskQuotaExceeded
    }

    public var description: String {
        var text = "\(operation) \(path)"
        if let offset { text += " at offset \(offset)" }
        text += ": \(errno) (errno \(errno.rawValue))"
        switch errno {
        case .noSpace: text += "; free space on the file system or move the data directory"
        case .fileTooLarge: text += "; the file-size limit (ulimit -f / RLIMIT_FSIZE) was hit"
        case .diskQuotaExceeded: text += "; the disk quota is exhausted"
        case .permissionDenied, .notPermitted: text += "; check the directory's owner and mode"
        case .ioError: text += "; the device reported an I/O error"
        default: break
        }
        return text
    }
}

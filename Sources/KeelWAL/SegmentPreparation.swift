#if canImport(Glibc)
import Glibc
#endif
import KeelIO

/// The next segment file, made ahead of need on a thread of its own: created, preallocated,
/// zero-filled over its whole size and fsynced, so that cutting a segment costs the writer
/// only the header records, a rename and a directory fsync — not 64 MiB of zeros.
///
/// Zero-filling (not just fallocate) is what keeps steady-state fdatasyncs cheap: writes then
/// land in extents that are already written, so the file system has no metadata to commit.
final class SegmentPreparation: @unchecked Sendable {
    /// A name replay removes on open (it ends in `.wal.tmp`), so a crash leaves nothing behind.
    static let fileName = "next.wal.tmp"

    let path: String
    let capacity: Int64
    private var thread: OSThread?
    /// Written by the preparing thread, read after `join` (which orders the two).
    private var failure: IOError?

    init(directory: String, capacity: Int64) {
        self.path = directory + "/" + Self.fileName
        self.capacity = capacity
        let path = self.path
        thread = OSThread(name: "keel-wal-prep") { [unowned self] in
            // Started from the writer, it would inherit the writer's raised priority: bulk
            // zero-filling must not compete with commits at that priority.
            try? Syscalls.setThreadNice(0)
            do throws(IOError) {
                try Self.make(path: path, capacity: capacity)
            } catch {
                self.failure = error
            }
        }
    }

    /// Waits for the file; returns its path when it is ready to take `bytes` of records, or
    /// nil when it could not be made (the caller then makes a segment itself).
    func take(atLeast bytes: Int64) -> String? {
        finish()
        return failure == nil && capacity >= bytes ? path : nil
    }

    /// Made, and not yet taken by a cut.
    var isReady: Bool {
        finish()
        return failure == nil
    }

    /// Waits for the preparing thread to end.
    func finish() {
        thread?.join()
        thread = nil
    }

    deinit { finish() }

    /// Creates `path` (replacing any older one), preallocated and zero-filled to `capacity`
    /// bytes, with its size and contents durable.
    static func make(path: String, capacity: Int64) throws(IOError) {
        let fd = try Syscalls.open(path, flags: O_RDWR | O_CREAT | O_TRUNC, mode: 0o600)
        defer { Syscalls.close(fd) }
        try Syscalls.preallocate(fd, length: capacity, path: path)
        try Syscalls.zeroFill(fd, 0..<capacity, path: path)
        try Syscalls.fsync(fd, path: path)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import KeelIO
import KeelRaft
import NIOCore
import Synchronization

/// Where the data of one incoming snapshot goes as its chunks arrive: into memory (a transport
/// without a snapshot directory), or into a file of the member's snap directory, so a database
/// of gigabytes never sits in memory.
///
/// The file is written under a name of this connection's own (`….part-<n>`); `finish` fsyncs it
/// and renames it to `<index>.snap.db.tmp` (``SnapshotDatabaseFiles``), where the raft loop
/// checks it and moves it into place. A sink dropped unfinished (connection lost, protocol
/// error) removes its file. Event-loop thread only.
final class PeerSnapshotSink {
    private static let serials = Atomic<UInt64>(0)
    private(set) var count = 0
    private var memory: [UInt8] = []
    private var file: (fd: Int32, part: String, done: String)?

    /// `directory` nil: memory. `bytes` is the announced size (memory is reserved only for what
    /// the first chunks bring).
    init(directory: String?, index: KeelRaft.LogIndex, bytes: Int) throws(KeelIO.IOError) {
        guard let directory else {
            memory.reserveCapacity(min(bytes, 64 << 20))
            return
        }
        let done = SnapshotDatabaseFiles.path(index, in: directory) + ".tmp"
        let part = done + ".part-\(Self.serials.add(1, ordering: .relaxed).newValue)"
        let fd = try Syscalls.open(part, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        file = (fd, part, done)
    }

    deinit { discard() }

    func append(_ body: ByteBuffer) throws(KeelIO.IOError) {
        guard let file else {
            body.withUnsafeReadableBytes { memory.append(contentsOf: $0) }
            count += body.readableBytes
            return
        }
        let written = body.withUnsafeReadableBytes { bytes in
            Result { () throws(KeelIO.IOError) in try Syscalls.pwriteAll(file.fd, bytes, offset: Int64(count), path: file.part) }
        }
        try written.get()
        count += body.readableBytes
    }

    /// The data (memory), or nothing once the file is durable under its `.tmp` name.
    func finish() throws(KeelIO.IOError) -> [UInt8] {
        guard let file else { return memory }
        self.file = nil
        defer { Syscalls.close(file.fd) }
        do throws(KeelIO.IOError) {
            try Syscalls.fsync(file.fd, path: file.part)
            try Syscalls.rename(file.part, file.done)
        } catch {
            try? Syscalls.unlink(file.part)
            throw error
        }
        return []
    }

    /// Drops what was received (idempotent).
    func discard() {
        memory = []
        guard let file else { return }
        self.file = nil
        Syscalls.close(file.fd)
        try? Syscalls.unlink(file.part)
    }
}

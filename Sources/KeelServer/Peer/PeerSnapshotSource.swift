#if canImport(Glibc)
import Glibc
#endif
import KeelIO
import NIOCore

/// Where the data of one outgoing snapshot comes from: the message itself, or a file (a copy of
/// the B+tree) read one chunk at a time as the connection takes them, so a database of
/// gigabytes never sits in the leader's memory. The transport owns the file: it is removed
/// when the send ends (``close()``). Event-loop thread only.
final class PeerSnapshotSource {
    let count: Int
    private let bytes: [UInt8]
    private var file: (fd: Int32, path: String)?

    /// The data carried in the message.
    init(bytes: [UInt8]) {
        self.bytes = bytes
        count = bytes.count
    }

    /// The data in the file at `path` (taken over: removed on `close`).
    init(file path: String) throws(KeelIO.IOError) {
        bytes = []
        let fd: Int32
        do throws(KeelIO.IOError) {
            fd = try Syscalls.open(path, flags: O_RDONLY)
        } catch {
            try? Syscalls.unlink(path)
            throw error
        }
        do throws(KeelIO.IOError) {
            count = Int(try Syscalls.fileSize(fd, path: path))
        } catch {
            Syscalls.close(fd)
            try? Syscalls.unlink(path)
            throw error
        }
        file = (fd, path)
    }

    deinit { close() }

    /// Appends the bytes `range` of the data to `buffer`.
    func write(_ range: Range<Int>, into buffer: inout ByteBuffer) throws(KeelIO.IOError) {
        guard let file else {
            buffer.writeBytes(bytes[range])
            return
        }
        var failure: KeelIO.IOError?
        let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: range.count) { target in
            do throws(KeelIO.IOError) {
                return try Syscalls.preadAll(file.fd, UnsafeMutableRawBufferPointer(rebasing: target[0..<range.count]),
                                             offset: Int64(range.lowerBound), path: file.path)
            } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        // The copy is written once and never changes while it is sent.
        precondition(read == range.count, "\(file.path) ended at \(range.lowerBound + read), not \(count)")
    }

    /// Closes and removes the file, if any (idempotent).
    func close() {
        guard let file else { return }
        self.file = nil
        Syscalls.close(file.fd)
        try? Syscalls.unlink(file.path)
    }
}

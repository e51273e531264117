#if canImport(Glibc)
import Glibc
#endif
import KeelIO

/// The database file mapped read-only into one range of address space reserved up front.
///
/// The whole reserve is taken once (PROT_NONE, no memory committed) and the file is mapped at
/// its start; when the file grows, only the new part is mapped, just after the old one. The
/// base address never changes and existing pages are never unmapped, so readers walking
/// mapped pages need no lock against growth. Writes go through the file descriptor (KeelIO),
/// never through the mapping; MAP_SHARED keeps the two coherent.
public struct Mapping: ~Copyable {
    let base: UnsafeMutableRawPointer
    public let reservedBytes: Int
    public private(set) var mappedBytes: Int
    let path: String

    /// Reserves `reservedBytes` of address space and maps the first `fileBytes` of `fd`.
    init(fd: Int32, path: String, fileBytes: Int, reservedBytes: Int) throws(StorageError) {
        guard fileBytes <= reservedBytes else {
            throw .reserveExhausted(path: path, neededBytes: fileBytes, reservedBytes: reservedBytes)
        }
        let reserved = mmap(nil, reservedBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let reserved, reserved != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw .io(IOError(operation: "mmap (reserve \(reservedBytes) bytes)", errno: .current, path: path))
        }
        do {
            try Self.mapRange(base: reserved, fd: fd, path: path, from: 0, to: fileBytes)
        } catch {
            munmap(reserved, reservedBytes)
            throw error
        }
        self.base = reserved
        self.reservedBytes = reservedBytes
        self.mappedBytes = fileBytes
        self.path = path
    }

    deinit { munmap(base, reservedBytes) }

    /// Maps the file up to `bytes` (the file must already be that long). Pages mapped before
    /// are left as they are.
    mutating func extend(fd: Int32, to bytes: Int) throws(StorageError) {
        guard bytes > mappedBytes else { return }
        guard bytes <= reservedBytes else {
            throw .reserveExhausted(path: path, neededBytes: bytes, reservedBytes: reservedBytes)
        }
        try Self.mapRange(base: base, fd: fd, path: path, from: mappedBytes, to: bytes)
        mappedBytes = bytes
    }

    private static func mapRange(base: UnsafeMutableRawPointer, fd: Int32, path: String, from start: Int, to end: Int) throws(StorageError) {
        guard end > start else { return }
        let at = mmap(base + start, end - start, PROT_READ, MAP_SHARED | MAP_FIXED, fd, off_t(start))
        guard at == base + start else {
            throw .io(IOError(operation: "mmap", errno: .current, path: path, offset: Int64(start)))
        }
    }
}

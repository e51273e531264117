#if canImport(Glibc)
import Glibc
#endif
import KeelIO
import Synchronization

/// How a database file is opened.
public struct StorageOptions: Sendable {
    /// Address space reserved for the mapping (no memory is committed for it). The file can
    /// grow to this size without being remapped under readers; a file already larger gets
    /// twice its size. etcd's default backend quota is 2 GiB, its maximum 8 GiB.
    public var reservedBytes: Int = 16 << 30
    /// The file grows in steps of this many bytes, so that most commits change no file size.
    public var growthBytes: Int = 16 << 20
    /// How commits reach the disk (`--wal-io` applies here too).
    public var backend: IOBackendChoice = .auto

    public init() {}
}

/// A Keel database file: two meta pages, then branch, leaf and overflow pages, mapped
/// read-only for readers and written through KeelIO by the single writer.
///
/// Readers never lock: `beginRead` pins the published version through the reader table
/// and walks mapped pages. One writer at a time: `beginWrite` waits for the previous one to
/// commit or roll back.
public final class Database: @unchecked Sendable {
    public static let pageSize = 4096
    public static let keyBytesMax = 32 << 10
    public static let valueBytesMax = 1 << 30

    public let path: String
    let options: StorageOptions
    // Writer state: touched only by the thread holding the writer role (or by open/check).
    var file: DurableFile
    var mapping: Mapping
    /// The newest committed meta.
    public internal(set) var meta: Meta
    var freelist: Freelist
    var failure: StorageError?
    // Shared with readers.
    let readers: ReaderTable
    /// The mapping's first byte and how far it reaches, for readers (the mapping itself is
    /// the writer's).
    let base: UnsafeRawPointer
    let mappedBytes: Atomic<Int>
    let writerGate = ConditionLock()
    var writerActive = false
    /// The freelist as the open write transaction found it, restored by a rollback.
    var freelistAtBegin: Freelist?

    private init(path: String, options: StorageOptions, file: consuming DurableFile, mapping: consuming Mapping, meta: Meta) {
        self.path = path
        self.options = options
        self.base = UnsafeRawPointer(mapping.base)
        self.mappedBytes = Atomic(mapping.mappedBytes)
        self.file = file
        self.mapping = mapping
        self.meta = meta
        self.readers = ReaderTable(root: meta.root, txid: meta.txid)
        self.freelist = Freelist(pageCount: meta.pageCount, reachable: [])
        var reachable = Set<UInt64>()
        var problems: [String] = []
        walk(root: meta.root, reachable: &reachable, problems: &problems, checkKeys: false)
        self.freelist = Freelist(pageCount: meta.pageCount, reachable: reachable)
    }

    /// Opens the database at `path`, creating it when the file is missing or empty. A file
    /// that is too short, or has no valid meta page, is refused with the reason; nothing in
    /// it is changed.
    public static func open(path: String, options: StorageOptions = StorageOptions()) throws(StorageError) -> Database {
        precondition(options.growthBytes > 0 && options.growthBytes % pageSize == 0, "growthBytes must be a positive multiple of the page size")
        do {
            if try fileSize(path) ?? 0 == 0 { try create(path) }
            let file = try DurableFile(path: path, create: false, backend: options.backend)
            let size = Int(try file.size())
            let meta = try chooseMeta(file, path: path, fileBytes: size)
            let reserve = max(options.reservedBytes, 2 * size)
            let mapping = try Mapping(fd: file.descriptor, path: path, fileBytes: size, reservedBytes: reserve)
            return Database(path: path, options: options, file: file, mapping: mapping, meta: meta)
        } catch let error as StorageError {
            throw error
        } catch let error as IOError {
            throw .io(error)
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    /// The file's size in bytes.
    public var fileBytes: Int { mapping.mappedBytes }

    /// Makes sure the file (and the mapping) hold at least `pages` pages, growing in chunks of
    /// `growthBytes`; the new space is allocated and its size made durable.
    func grow(toPages pages: UInt64) throws(StorageError) {
        let needed = Int(pages) * Self.pageSize
        guard needed > mapping.mappedBytes else { return }
        let target = (needed + options.growthBytes - 1) / options.growthBytes * options.growthBytes
        guard target <= mapping.reservedBytes else {
            throw .reserveExhausted(path: path, neededBytes: target, reservedBytes: mapping.reservedBytes)
        }
        do {
            try file.preallocate(bytes: Int64(target))
            try file.syncAll()
        } catch {
            throw .io(error)
        }
        try mapping.extend(fd: file.descriptor, to: target)
        mappedBytes.store(mapping.mappedBytes, ordering: .releasing)
    }

    /// The mapped bytes of `count` pages from `page`.
    func pageBytes(_ page: PageID, count: Int = 1) -> UnsafeRawBufferPointer {
        let offset = Int(page.rawValue) * Self.pageSize
        precondition(offset + count * Self.pageSize <= mappedBytes.load(ordering: .acquiring), "page \(page) is beyond the mapped file")
        return UnsafeRawBufferPointer(start: base + offset, count: count * Self.pageSize)
    }

    /// The node stored at `page` (its first page and any overflow pages), as mapped.
    func view(_ page: PageID) -> PageView {
        let first = pageBytes(page)
        let overflow = Int(UInt32(littleEndian: first.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        return PageView(bytes: overflow == 0 ? first : pageBytes(page, count: 1 + overflow))
    }

    // MARK: Opening

    private static func fileSize(_ path: String) throws(IOError) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if Errno.current == .noSuchFile { return nil }
            throw IOError(operation: "stat", errno: .current, path: path)
        }
        return Int64(info.st_size)
    }

    /// Writes a new, empty database: meta pages for txids 0 and 1, no root, two pages in use.
    private static func create(_ path: String) throws(IOError) {
        let fd = try Syscalls.open(path, flags: O_RDWR | O_CREAT, mode: 0o600)
        defer { Syscalls.close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * pageSize, alignment: pageSize)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        for txid in 0..<2 as Range<UInt64> {
            let meta = Meta(pageSize: UInt32(pageSize), txid: TxID(txid), root: PageID(0), pageCount: 2)
            meta.encode(to: buffer.baseAddress! + Int(meta.slot.rawValue) * pageSize)
        }
        try Syscalls.pwriteAll(fd, UnsafeRawBufferPointer(buffer), offset: 0, path: path)
        try Syscalls.fsync(fd, path: path)
        let slash = path.lastIndex(of: "/")
        try Syscalls.syncDirectory(slash.map { String(path[..<$0]) }.flatMap { $0.isEmpty ? "/" : $0 } ?? ".")
    }

    /// Reads both meta pages and returns the valid one with the higher txid.
    private static func chooseMeta(_ file: borrowing DurableFile, path: String, fileBytes: Int) throws -> Meta {
        guard fileBytes >= 2 * pageSize else {
            throw StorageError.notADatabase(path: path, reason: "the file is \(fileBytes) bytes, shorter than its two \(pageSize)-byte meta pages")
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * pageSize, alignment: pageSize)
        defer { buffer.deallocate() }
        _ = try file.read(into: buffer, at: 0)
        var chosen: Meta?
        var problems: [String] = []
        for slot in 0..<2 {
            let page = UnsafeRawBufferPointer(rebasing: buffer[slot * pageSize..<(slot + 1) * pageSize])
            switch Meta.decode(page).flatMap({ validate($0, slot: slot, fileBytes: fileBytes) }) {
            case .success(let meta):
                if chosen == nil || meta.txid > chosen!.txid { chosen = meta }
            case .failure(let problem):
                problems.append("page \(slot): \(problem)")
            }
        }
        guard let chosen else {
            throw StorageError.notADatabase(path: path, reason: "no valid meta page (" + problems.joined(separator: "; ") + ")")
        }
        return chosen
    }

    private static func validate(_ meta: Meta, slot: Int, fileBytes: Int) -> Result<Meta, MetaProblem> {
        guard meta.pageSize == UInt32(pageSize) else {
            return .failure(.inconsistent("page size \(meta.pageSize), this build uses \(pageSize)"))
        }
        guard meta.slot.rawValue == UInt64(slot) else {
            return .failure(.inconsistent("txid \(meta.txid) does not belong in meta page \(slot)"))
        }
        guard meta.pageCount >= 2, meta.pageCount <= UInt64(fileBytes / pageSize) else {
            return .failure(.inconsistent("it claims \(meta.pageCount) pages, the file holds \(fileBytes / pageSize)"))
        }
        guard meta.root.rawValue == 0 || (meta.root.rawValue >= 2 && meta.root.rawValue < meta.pageCount) else {
            return .failure(.inconsistent("root page \(meta.root) is outside pages 2..<\(meta.pageCount)"))
        }
        return .success(meta)
    }
}

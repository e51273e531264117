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
    /// The file commits go to.
    var store: Store
    /// Stores replaced by defragmentation, kept until no reader can see them: each with the
    /// first txid of its successor.
    var retiredStores: [(store: Store, replacedAt: TxID)] = []
    /// How many times the store was replaced; readers find theirs by it.
    var storeGeneration: UInt64 = 0
    /// The newest committed meta.
    public internal(set) var meta: Meta
    var freelist: Freelist
    var failure: StorageError?
    // Shared with readers.
    let readers: ReaderTable
    /// The live stores by generation (modulo `storeSlotsMax`), as unretained pointers a
    /// reader turns into a reference: the database's own references keep them alive.
    let storeSlots: [StoreSlot]
    static let storeSlotsMax = 4
    /// How many times `replace(withFileAt:)` gave the database other contents. Stored before
    /// readers can see the new version, so a reader that pairs state kept elsewhere (a key
    /// space's revision index) with a read transaction can tell the two apart (see
    /// `replacements`).
    let replacementCount = Atomic<UInt64>(0)
    /// The name (after the database's own) of the file a defragmentation builds.
    static let defragmentSuffix = ".defrag"

    final class StoreSlot: @unchecked Sendable {
        let bits = Atomic<UInt>(0)
    }
    let writerGate = ConditionLock()
    var writerActive = false
    /// `stats` as the last writer left them (guarded by `writerGate`).
    var settledStats: StorageStats?
    /// The freelist as the open write transaction found it, restored by a rollback.
    var freelistAtBegin: Freelist?
    /// The keys, values and page copies of the open write transaction (see `ByteArena`).
    let writeArena = ByteArena()
    /// Buffers the last commit wrote its pages from, for the next one (see `PageWrites`).
    var spareWriteChunks: [UnsafeMutableRawBufferPointer] = []

    private init(path: String, options: StorageOptions, store: Store, meta: Meta) {
        self.path = path
        self.options = options
        self.store = store
        self.meta = meta
        self.storeSlots = (0..<Self.storeSlotsMax).map { _ in StoreSlot() }
        self.storeSlots[0].bits.store(UInt(bitPattern: Unmanaged.passUnretained(store).toOpaque()), ordering: .releasing)
        self.readers = ReaderTable(root: meta.root, generation: 0, txid: meta.txid)
        self.freelist = Freelist(pageCount: meta.pageCount, reachable: [])
        var reachable = Set<UInt64>()
        var problems: [String] = []
        walk(root: meta.root, reachable: &reachable, problems: &problems, checkKeys: false)
        self.freelist = Freelist(pageCount: meta.pageCount, reachable: reachable)
    }

    deinit { for chunk in spareWriteChunks { chunk.deallocate() } }

    /// Opens the database at `path`, creating it when the file is missing or empty. A file
    /// that is too short, or has no valid meta page, is refused with the reason; nothing in
    /// it is changed.
    public static func open(path: String, options: StorageOptions = StorageOptions()) throws(StorageError) -> Database {
        precondition(options.growthBytes > 0 && options.growthBytes % pageSize == 0, "growthBytes must be a positive multiple of the page size")
        do {
            if try fileSize(path) ?? 0 == 0 { try create(path) }
            try removeLeftover(path + Self.defragmentSuffix)
            let file = try DurableFile(path: path, create: false, backend: options.backend)
            let size = Int(try file.size())
            let meta = try chooseMeta(file, path: path, fileBytes: size)
            let reserve = max(options.reservedBytes, 2 * size)
            let mapping = try Mapping(fd: file.descriptor, path: path, fileBytes: size, reservedBytes: reserve)
            return Database(path: path, options: options, store: Store(path: path, file: file, mapping: mapping), meta: meta)
        } catch let error as StorageError {
            throw error
        } catch let error as IOError {
            throw .io(error)
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    /// The file's size in bytes; never waits (see `stats`).
    public var fileBytes: Int { stats.fileBytes }

    /// Makes sure the current file holds at least `pages` pages (see `Store.grow`).
    func grow(toPages pages: UInt64) throws(StorageError) {
        try store.grow(toPages: pages, growthBytes: options.growthBytes)
    }

    /// The current file's mapped bytes of `count` pages from `page` (writer side).
    func pageBytes(_ page: PageID, count: Int = 1) -> UnsafeRawBufferPointer { store.pageBytes(page, count: count) }

    /// The node at `page` in the current file (writer side).
    func view(_ page: PageID) -> PageView { store.view(page) }

    func find(_ key: [UInt8], in root: PageID) -> (PageView, Int)? { store.find(key, in: root) }

    /// The store a reader pinned with `generation` sees. Valid while the reader's pin holds.
    func store(generation: UInt64) -> Store {
        let bits = storeSlots[Int(generation % UInt64(Self.storeSlotsMax))].bits.load(ordering: .acquiring)
        return Unmanaged<Store>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeUnretainedValue()
    }

    // MARK: Opening

    /// A file defragmentation left behind when it was interrupted before its switch.
    private static func removeLeftover(_ path: String) throws(IOError) {
        if try fileSize(path) != nil { try Syscalls.unlink(path) }
    }

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
        try Syscalls.syncParentDirectory(of: path)
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

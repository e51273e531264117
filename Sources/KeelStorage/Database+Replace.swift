#if canImport(Glibc)
import Glibc
#endif
import KeelIO

extension Database {
    /// Gives the database the contents of the database file at `source` (a copy as
    /// `writeCopy` writes it, in the same directory, such as the one a raft leader sent in a
    /// snapshot), online, and moves that file to `path`.
    ///
    /// The file is checked first (its newest meta page must count exactly the file's pages,
    /// then every page its tree reaches is walked, as `check()` does): a damaged or shortened
    /// one is refused with `.failed` and nothing changes. Then, as
    /// one step under the writer role: a meta page that continues this database's txids goes
    /// into the new file (fsynced), the file is renamed over `path` and the directory synced,
    /// and the new version is published. A crash before the rename leaves the old file whole;
    /// after it, the new one. Readers that began before keep reading the old file until they
    /// end; `replacements` counts the switch before any reader can begin on the new file.
    ///
    /// The caller must have no write transaction open (this one waits for the writer role).
    public func replace(withFileAt source: String) throws(StorageError) {
        let target = try Database.openCopy(path: source, options: options)
        let writer = try beginWrite()
        var switched = false
        defer { if !switched { writer.rollback() } }
        guard retiredStores.count < Self.storeSlotsMax - 1 else {
            throw .failed("earlier switches still have readers on their old files")
        }
        // Readers must see txids grow, and a reopen must prefer this meta to both of the file's:
        // the next txid of this database or of the file, whichever is later, and of the other
        // parity than the file's newest, so that this write goes to the other meta page and a
        // torn write leaves the newest one (the same tree) in place.
        var txid = TxID(max(writer.txid.rawValue, target.meta.txid.rawValue + 1))
        if txid.rawValue % 2 == target.meta.txid.rawValue % 2 { txid = TxID(txid.rawValue + 1) }
        let next = Meta(pageSize: UInt32(Self.pageSize), txid: txid, root: target.meta.root, pageCount: target.freelist.pageCount)
        do {
            try target.writeMeta(next)
            try Syscalls.rename(source, path)
            try Syscalls.syncParentDirectory(of: path)
        } catch {
            throw .io(error)
        }
        replacementCount.add(1, ordering: .sequentiallyConsistent)
        adopt(target, meta: next)
        switched = true
        writer.closed = true
        endWrite(writer, committed: true)
    }

    /// How many times `replace(withFileAt:)` switched contents. A reader that begins a read
    /// transaction and then finds this unchanged from when it took other state (a revision
    /// index built from the same contents) knows the read transaction matches that state.
    public var replacements: UInt64 { replacementCount.load(ordering: .sequentiallyConsistent) }
}

extension Database {
    /// Opens the copy at `path` (as `writeCopy` writes it) after checking it is whole: its
    /// newest meta page counts exactly the file's pages (a file cut short would open on its
    /// older meta page, an earlier and partial state of the copy), and every page its tree
    /// reaches is sound (`check()`). Refused with `.failed` otherwise; nothing is changed.
    public static func openCopy(path: String, options: StorageOptions) throws(StorageError) -> Database {
        let fileBytes: Int64
        do throws(IOError) {
            let fd = try Syscalls.open(path, flags: O_RDONLY)
            defer { Syscalls.close(fd) }
            fileBytes = try Syscalls.fileSize(fd, path: path)
        } catch {
            throw .io(error)
        }
        // Opening an empty file would make it a new, empty database.
        guard fileBytes > 0 else { throw .failed("the database copy at \(path) is empty") }
        let copy = try Database.open(path: path, options: options)
        guard copy.meta.pageCount * UInt64(pageSize) == UInt64(fileBytes) else {
            copy.close()
            throw .failed("the database copy at \(path) is \(fileBytes) bytes, but its newest valid meta page counts \(copy.meta.pageCount) pages: cut short")
        }
        let problems = copy.check()
        guard problems.isEmpty else {
            copy.close()
            throw .failed("the database copy at \(path) is damaged: \(problems.prefix(3).joined(separator: "; "))")
        }
        return copy
    }

    /// The options the database was opened with (for opening a sibling file alike).
    public var storageOptions: StorageOptions { options }
}

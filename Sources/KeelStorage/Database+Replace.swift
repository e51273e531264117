import KeelIO

extension Database {
    /// Gives the database the contents of the database file at `source` (a complete database
    /// in the same directory, such as the copy a raft leader sent in a snapshot), online, and
    /// moves that file to `path`.
    ///
    /// The file is checked first (its meta page, then every page its tree reaches, as
    /// `check()` does): a damaged one is refused with `.failed` and nothing changes. Then, as
    /// one step under the writer role: a meta page that continues this database's txids goes
    /// into the new file (fsynced), the file is renamed over `path` and the directory synced,
    /// and the new version is published. A crash before the rename leaves the old file whole;
    /// after it, the new one. Readers that began before keep reading the old file until they
    /// end; `replacements` counts the switch before any reader can begin on the new file.
    ///
    /// The caller must have no write transaction open (this one waits for the writer role).
    public func replace(withFileAt source: String) throws(StorageError) {
        let target = try Database.open(path: source, options: options)
        let problems = target.check()
        guard problems.isEmpty else {
            target.close()
            throw .failed("the database at \(source) is damaged: \(problems.prefix(3).joined(separator: "; "))")
        }
        let writer = try beginWrite()
        var switched = false
        defer { if !switched { writer.rollback() } }
        guard retiredStores.count < Self.storeSlotsMax - 1 else {
            throw .failed("earlier switches still have readers on their old files")
        }
        // Both of the new file's meta pages must lose to this one on a reopen, and readers must
        // see txids grow: the next txid of this database or of the new file, whichever is later.
        let txid = TxID(max(writer.txid.rawValue, target.meta.txid.rawValue + 1))
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
    /// The options the database was opened with (for opening a sibling file alike).
    public var storageOptions: StorageOptions { options }
}

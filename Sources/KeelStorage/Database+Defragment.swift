#if canImport(Glibc)
import Glibc
#endif
import KeelIO

extension Database {
    /// Rewrites the database into a new, compact file and switches to it, online.
    ///
    /// Readers are never blocked: the copy is made from a read snapshot, and readers that
    /// began before the switch keep reading the old file (it stays open and mapped until the
    /// last of them ends). Writers go on during the copy; they wait only for the final step,
    /// which brings the copy up to date with what they committed meanwhile — by comparing the
    /// two versions' leaf pages, so its cost follows the amount of change, not the size of
    /// the database — writes one meta page and renames the new file into place. A crash
    /// before the rename leaves the old file as it was (the half-built one is removed on the
    /// next open); after it, the new file is complete.
    public func defragment() throws(StorageError) {
        let temporaryPath = path + Self.defragmentSuffix
        try? Syscalls.unlink(temporaryPath)
        let replacementsAtStart = replacements
        let snapshot = beginRead()
        defer { snapshot.end() }
        let target = try Database.open(path: temporaryPath, options: options)
        do {
            try copyEverything(from: snapshot, into: target)
            try switchTo(target, from: snapshot, temporaryPath: temporaryPath, replacementsAtStart: replacementsAtStart)
        } catch {
            try? Syscalls.unlink(temporaryPath)
            throw error
        }
    }

    /// Writes the newest committed state, compacted, into a new database file at `path` (replaced
    /// if it exists), from one read snapshot: neither readers nor the writer wait. The copy is
    /// a complete database that `open` accepts (Maintenance/Snapshot streams it), cut to the
    /// pages it uses: no growth chunk of zeros rides along. Both of its meta pages name the
    /// whole copy, so a copy cut short opens on neither.
    public func writeCopy(to path: String) throws(StorageError) {
        try? Syscalls.unlink(path)
        let snapshot = beginRead()
        defer { snapshot.end() }
        let target = try Database.open(path: path, options: options)
        do {
            try copyEverything(from: snapshot, into: target)
        } catch {
            target.close()
            throw error
        }
        let usedBytes = Int64(target.freelist.pageCount) * Int64(Self.pageSize)
        // Both meta pages name the whole copy: the older one would otherwise name the copy's
        // previous batch, a partial state that opens fine from a file cut short.
        let final = target.meta
        do {
            try target.writeMeta(Meta(pageSize: final.pageSize, txid: TxID(final.txid.rawValue + 1), root: final.root, pageCount: final.pageCount))
        } catch {
            target.close()
            throw .io(error)
        }
        target.close()
        do throws(IOError) {
            let fd = try Syscalls.open(path, flags: O_RDWR)
            defer { Syscalls.close(fd) }
            try Syscalls.truncate(fd, length: usedBytes, path: path)
            try Syscalls.fsync(fd, path: path)
        } catch {
            throw .io(error)
        }
    }

    /// Copies every bucket of `snapshot` into `target`, in key order, in bounded commits.
    private func copyEverything(from snapshot: ReadTransaction, into target: Database) throws(StorageError) {
        for name in snapshot.bucketNames() {
            var batch: [([UInt8], [UInt8])] = []
            var created = false
            var failure: StorageError?
            func flush() {
                guard failure == nil else { return }
                do {
                    let tx = try target.beginWrite()
                    if !created { try tx.createBucket(name) }
                    for (key, value) in batch { try tx.put(name, key, value) }
                    try tx.commit()
                    created = true
                } catch {
                    failure = error
                }
                batch.removeAll(keepingCapacity: true)
            }
            snapshot.scan(name) { key, value in
                batch.append(([UInt8](key), [UInt8](value)))
                if batch.count >= Self.defragmentBatchMax { flush() }
                return failure == nil
            }
            flush()
            if let failure { throw failure }
        }
    }

    static let defragmentBatchMax = 10_000

    /// Takes the writer role, brings `target` up to the newest commit, and makes it the file.
    private func switchTo(_ target: Database, from snapshot: ReadTransaction, temporaryPath: String,
                          replacementsAtStart: UInt64) throws(StorageError) {
        let writer = try beginWrite()
        var switched = false
        defer { if !switched { writer.rollback() } }
        // The copy's version is in a file `replace(withFileAt:)` has switched away from since:
        // its changes cannot be replayed from the current file.
        guard replacements == replacementsAtStart else {
            throw .failed("the database was replaced (a raft snapshot installed) while it was defragmented; try again")
        }
        guard retiredStores.count < Self.storeSlotsMax - 1 else {
            throw .failed("earlier defragmentations still have readers on their old files")
        }
        try applyChanges(from: snapshot.root, to: meta.root, into: target)
        // The new file continues the txids, so readers and meta pages keep one order.
        let next = Meta(pageSize: UInt32(Self.pageSize), txid: writer.txid, root: target.meta.root, pageCount: target.freelist.pageCount)
        do {
            try target.writeMeta(next)
            try Syscalls.rename(temporaryPath, path)
            try Syscalls.syncParentDirectory(of: path)
        } catch {
            throw .io(error)
        }
        adopt(target, meta: next)
        switched = true
        writer.closed = true
        endWrite(writer, committed: true)
    }

    /// Makes `target`'s store the one readers and the writer use from now on, at `next`
    /// (already durable in `target`'s file, which is already at `path`). The caller holds the
    /// writer role. Readers that began before keep the old store until they end.
    func adopt(_ target: Database, meta next: Meta) {
        let generation = storeGeneration + 1
        storeSlots[Int(generation % UInt64(Self.storeSlotsMax))].bits.store(
            UInt(bitPattern: Unmanaged.passUnretained(target.store).toOpaque()), ordering: .releasing)
        retiredStores.append((store, next.txid))
        store = target.store
        storeGeneration = generation
        var freelist = target.freelist
        freelist.reclaim(upTo: next.txid)
        self.freelist = freelist
        meta = next
        readers.publish(root: next.root, generation: generation, txid: next.txid)
    }

    /// Replays onto `target` what changed between the versions rooted at `old` and `new`
    /// (both readable in the current file).
    private func applyChanges(from old: PageID, to new: PageID, into target: Database) throws(StorageError) {
        guard old != new else { return }
        let oldBuckets = bucketRoots(old)
        let newBuckets = bucketRoots(new)
        let tx = try target.beginWrite()
        for (name, _) in oldBuckets where !newBuckets.contains(where: { $0.name == name }) {
            try tx.deleteBucket(name)
        }
        for (name, root) in newBuckets {
            let before = oldBuckets.first { $0.name == name }?.root
            if before == nil { try tx.createBucket(name) }
            if before == root { continue }
            for change in leafChanges(from: before ?? PageID(0), to: root) {
                if let value = change.value { try tx.put(name, change.key, value) } else { try tx.delete(name, change.key) }
            }
        }
        try tx.commit()
    }

    private func bucketRoots(_ directory: PageID) -> [(name: [UInt8], root: PageID)] {
        leafPages(directory).flatMap { page -> [(name: [UInt8], root: PageID)] in
            let view = self.view(page)
            return (0..<view.count).map { i in ([UInt8](view.key(i)), view.bucketRoot(i) ?? PageID(0)) }
        }
    }

    /// The leaf pages of the tree at `root`, in key order, found by reading branch pages only
    /// (every leaf is at the same depth).
    func leafPages(_ root: PageID) -> [PageID] {
        guard root.rawValue != 0 else { return [] }
        var level = [root]
        var view = self.view(root)
        while !view.isLeaf {
            var next: [PageID] = []
            for page in level {
                let branch = self.view(page)
                for i in 0..<branch.count { next.append(branch.child(i)) }
            }
            view = self.view(next[0])
            level = next
        }
        return level
    }

    /// The keys whose values differ between two versions of one tree (nil: deleted). Leaves
    /// with the same page in both are the same leaf (pages are never rewritten in place), so
    /// only the leaves that exist in one version alone are read.
    func leafChanges(from old: PageID, to new: PageID) -> [(key: [UInt8], value: [UInt8]?)] {
        let oldLeaves = leafPages(old), newLeaves = leafPages(new)
        let oldSet = Set(oldLeaves), newSet = Set(newLeaves)
        func entries(_ leaves: [PageID], excluding other: Set<PageID>) -> [(key: [UInt8], value: [UInt8])] {
            leaves.filter { !other.contains($0) }.flatMap { page -> [(key: [UInt8], value: [UInt8])] in
                let view = self.view(page)
                return (0..<view.count).map { ([UInt8](view.key($0)), [UInt8](view.value($0))) }
            }
        }
        let removed = entries(oldLeaves, excluding: newSet)
        let added = entries(newLeaves, excluding: oldSet)
        var changes: [(key: [UInt8], value: [UInt8]?)] = []
        var i = 0, j = 0
        while i < removed.count || j < added.count {
            let order = i == removed.count ? 1 : j == added.count ? -1 : compareKeys(removed[i].key, added[j].key)
            if order < 0 {
                changes.append((removed[i].key, nil))
                i += 1
            } else if order > 0 {
                changes.append((added[j].key, added[j].value))
                j += 1
            } else {
                if removed[i].value != added[j].value { changes.append((added[j].key, added[j].value)) }
                i += 1
                j += 1
            }
        }
        return changes
    }
}

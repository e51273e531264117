import KeelIO
import KeelStorage

/// etcd's HashKV answer: a CRC32C of the key space's history up to `revision`, which members
/// compare to find corruption. Two stores given the same history (and compactions) agree.
public struct KeySpaceHash: Hashable, Sendable {
    public var hash: UInt32
    /// The compact revision when the hash was taken (0 when never compacted).
    public var compactRevision: Int64
    /// The revision the hash covers.
    public var revision: Int64
    /// The store's revision when the hash was taken (the response header's).
    public var currentRevision: Int64
}

extension KVStore {
    /// etcd's HashKV at `revision` (0 or less: the current one): CRC32C of the name `key`, then
    /// of each `key` bucket row's key and value in revision order up to `revision`, skipping
    /// rows at or below the compact revision that a compaction at `revision` would drop.
    ///
    /// Where no key exists at `revision`, etcd hashes every row at or below the compact
    /// revision that storage still holds, which depends on how far the physical compaction has
    /// got; Keel hashes the rows that compaction keeps instead (the puts live at the compact
    /// revision), which is what etcd hashes once its compaction is done. Refusals:
    /// `compacted` below the compact revision, `futureRevision` above the current one. Any
    /// thread; reads every row, so it is slow on a big store.
    public func hashKV(_ revision: Int64) -> Result<KeySpaceHash, MVCCRefusal> {
        withSnapshot { view, storage in
            if revision > 0 && revision < view.compactRevision { return .failure(.compacted(compactRevision: view.compactRevision)) }
            if revision > view.currentRevision { return .failure(.futureRevision) }
            let at = revision <= 0 ? view.currentRevision : revision
            let compact = view.compactRevision
            var keep = view.index.revisionsKeptForHash(atRevision: at)
            if keep.isEmpty { keep = view.index.revisionsKeptForHash(atRevision: compact) }
            var hash = CRC32C.checksum(KVStoreSchema.keyBucket)
            Self.forEachRow(from: Revision(main: 0), through: at, view: view, storage: storage) { row, tombstone, value in
                if row.main <= compact && !keep.contains(row) { return true }
                hash = CRC32C.checksum(row.keyBytes(tombstone: tombstone), continuing: hash)
                hash = CRC32C.checksum(value, continuing: hash)
                return true
            }
            return .success(KeySpaceHash(hash: hash, compactRevision: compact, revision: at, currentRevision: view.currentRevision))
        }
    }

    /// etcd's Hash: CRC32C over every bucket of the database (name, then each key and value in
    /// order), leaving out `meta`'s consistent index and term, which differ between members
    /// that hold the same data. Commits first, so it covers every applied write. Writer thread.
    public func hash() throws(StorageError) -> UInt32 {
        try flush()
        let storage = database.beginRead()
        defer { storage.end() }
        var hash: UInt32 = 0
        for bucket in storage.bucketNames() {
            hash = CRC32C.checksum(bucket, continuing: hash)
            storage.scan(bucket) { key, value in
                let ignored = bucket == KVStoreSchema.metaBucket
                    && (key.elementsEqual(KVStoreSchema.consistentIndexKey) || key.elementsEqual(KVStoreSchema.termKey))
                if !ignored {
                    hash = CRC32C.checksum(key, continuing: hash)
                    hash = CRC32C.checksum(value, continuing: hash)
                }
                return true
            }
        }
        return hash
    }
}

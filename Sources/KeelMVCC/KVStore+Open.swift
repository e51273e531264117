import KeelStorage

extension KVStore {
    /// What opening finds in the database.
    struct Restored {
        var builder: IndexBuilder
        var currentRevision: Int64
        var compactRevision: Int64
        var consistentIndex: ConsistentIndex
        var leases: [(key: [UInt8], lease: LeaseID)]
        /// A compaction scheduled and not finished before the last close or crash.
        var unfinishedCompaction: Int64?
    }

    /// Creates the buckets if needed, then rebuilds the index from every `key` bucket row in
    /// revision order (a tombstone row ends its key's generation) and reads the `meta` bucket.
    static func restore(_ database: Database) throws(StorageError) -> Restored {
        try createBuckets(database)
        let storage = database.beginRead()
        defer { storage.end() }
        let meta = KVStoreSchema.metaBucket
        let finished = KVStoreSchema.decodeRevision(storage.get(meta, KVStoreSchema.finishedCompactKey)) ?? 0
        let scheduled = KVStoreSchema.decodeRevision(storage.get(meta, KVStoreSchema.scheduledCompactKey)) ?? 0
        let applied = storedConsistentIndex(storage)

        let builder = IndexBuilder(IndexVersion())
        var leases: [[UInt8]: LeaseID] = [:]
        // etcd's empty store is at revision 1 (its first write makes revision 2).
        var last: Int64 = 1
        var broken: String?
        storage.scan(KVStoreSchema.keyBucket) { key, value in
            guard let revision = Revision(keyBytes: key), let kv = RowCodec.decode(value), !kv.key.isEmpty else {
                broken = "key bucket row \(Array(key)) is not a revision with a KeyValue"
                return false
            }
            let tombstone = Revision.isTombstone(keyBytes: key)
            builder.restore(kv.key, revision, tombstone: tombstone, created: Revision(main: kv.createRevision), version: kv.version)
            leases[kv.key] = tombstone || kv.lease == .none ? nil : kv.lease
            last = revision.main
            return true
        }
        if let broken { throw .failed(broken) }
        let compact = max(finished, scheduled)
        // Compaction may have deleted the rows of the newest revisions (tombstones at or below
        // it): the revision is at least the compacted one.
        return Restored(builder: builder, currentRevision: max(last, compact), compactRevision: compact,
                        consistentIndex: applied,
                        leases: leases.map { ($0.key, $0.value) }.sorted { RangeOptions.compareBytes($0.key, $1.key) < 0 },
                        unfinishedCompaction: scheduled > finished ? scheduled : nil)
    }

    /// The consistent index recorded in the `meta` bucket of the version `storage` reads
    /// (zero when there is none): for checking a database file without opening a store on it.
    public static func storedConsistentIndex(_ storage: ReadTransaction) -> ConsistentIndex {
        let meta = KVStoreSchema.metaBucket
        return ConsistentIndex(index: KVStoreSchema.decodeUInt64(storage.get(meta, KVStoreSchema.consistentIndexKey)) ?? 0,
                               term: KVStoreSchema.decodeUInt64(storage.get(meta, KVStoreSchema.termKey)) ?? 0)
    }

    private static func createBuckets(_ database: Database) throws(StorageError) {
        let storage = database.beginRead()
        let existing = Set(storage.bucketNames())
        storage.end()
        let missing = KVStoreSchema.buckets.filter { !existing.contains($0) }
        guard !missing.isEmpty else { return }
        let transaction = try database.beginWrite()
        for name in missing { try transaction.createBucket(name) }
        try transaction.commit()
    }
}

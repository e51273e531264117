import KeelStorage

/// A compaction in progress: first the index drops the revisions superseded at `revision`, a
/// batch of keys at a time, collecting the revisions at or below it that stay; then the rows at
/// or below it that did not stay are deleted from the B+tree, a batch at a time.
struct KVStoreCompaction {
    enum Phase {
        /// Index keys from this one (nil: the first).
        case index(resume: [UInt8]?)
        /// B+tree rows from this key of the `key` bucket.
        case rows(from: [UInt8])
    }

    let revision: Int64
    var phase: Phase = .index(resume: nil)
    var keep = Set<Revision>()

    init(revision: Int64) { self.revision = revision }
}

extension KVStore {
    /// etcd's Compact: refuses a revision at or below the compact revision (`compacted`) or
    /// above the current one (`futureRevision`). Otherwise reads below `revision` are refused
    /// from now on, `scheduledCompactRev` is recorded with this entry's consistent index, and
    /// the superseded history is dropped by later `compactStep()` calls (a compaction still
    /// running is replaced: this one covers it). Writer thread.
    public func compact(_ compactRevision: Int64, applying applied: ConsistentIndex) throws(StorageError) -> Result<CompactResponse, MVCCRefusal> {
        guard compactRevision > compactedRevision else {
            try recordApplied(applied)
            return .failure(.compacted(compactRevision: compactedRevision))
        }
        guard compactRevision <= revision else {
            try recordApplied(applied)
            return .failure(.futureRevision)
        }
        let transaction = try storageTransaction()
        try transaction.put(KVStoreSchema.metaBucket, KVStoreSchema.scheduledCompactKey, KVStoreSchema.encodeRevision(compactRevision))
        try record(applied)
        compactedRevision = compactRevision
        compaction = KVStoreCompaction(revision: compactRevision)
        // Published before any row goes: a reader holding an older view began its storage read
        // before the deleting commit, or finds the view changed and starts again.
        publish()
        return .success(CompactResponse(revision: revision))
    }

    /// Does a bounded part of the running compaction (`compactionKeysPerStep` index keys, or
    /// `compactionRowsPerStep` B+tree rows). Returns true while work remains. The apply loop
    /// calls it between entries; it is a no-op when no compaction runs. Writer thread.
    @discardableResult
    public func compactStep() throws(StorageError) -> Bool {
        guard var job = compaction else { return false }
        switch job.phase {
        case .index(let resume):
            let next = builder.compact(atRevision: job.revision, from: resume, keysMax: options.compactionKeysPerStep, keep: &job.keep)
            job.phase = next.map { .index(resume: $0) } ?? .rows(from: [])
            compaction = job
            publish()
        case .rows(let from):
            compaction = try deleteRows(&job, from: from) ? job : nil
            try commitIfDue()
        }
        return compaction != nil
    }

    /// Runs the compaction to its end.
    public func finishCompaction() throws(StorageError) {
        while try compactStep() {}
    }

    /// Deletes up to a batch of rows at or below the compaction's revision that it does not
    /// keep, from `from` on. Returns true when rows remain; when none do, records the
    /// compaction as finished.
    private func deleteRows(_ job: inout KVStoreCompaction, from: [UInt8]) throws(StorageError) -> Bool {
        let transaction = try storageTransaction()
        let cursor = try transaction.cursor(KVStoreSchema.keyBucket)
        let end = Revision(main: job.revision + 1).keyBytes()
        var doomed: [[UInt8]] = []
        var entry = cursor.seek(from)
        var visited = 0
        var last: [UInt8]?
        while let current = entry, visited < options.compactionRowsPerStep, RangeOptions.compareBytes(current.key, end) < 0 {
            guard let revision = Revision(keyBytes: current.key) else { preconditionFailure("a key bucket key that is no revision") }
            if !job.keep.contains(revision) { doomed.append(current.key) }
            last = current.key
            visited += 1
            entry = cursor.next()
        }
        for key in doomed { try transaction.delete(KVStoreSchema.keyBucket, key) }
        pendingRows += doomed.count
        let more = visited == options.compactionRowsPerStep && entry.map { RangeOptions.compareBytes($0.key, end) < 0 } == true
        if more {
            job.phase = .rows(from: last! + [0])
            return true
        }
        try transaction.put(KVStoreSchema.metaBucket, KVStoreSchema.finishedCompactKey, KVStoreSchema.encodeRevision(job.revision))
        return false
    }
}

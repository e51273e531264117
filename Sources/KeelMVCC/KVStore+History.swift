import KeelStorage

extension KVStore {
    /// The events with main revision in [`from`, `through`] on keys of the range (`end` as in
    /// Range: nil or empty, the one key; `[0]`, every key from `key`), in revision order, whole
    /// revisions only: it stops after the revision at which the count reaches `eventsMax`.
    /// `through` is cut to the current revision. Events carry no `prevKV`. Refused with
    /// `compacted` when `from` is below the compact revision. From the compact revision itself
    /// the events are whole: compaction keeps every row of that revision, tombstones included
    /// (the index keeps them; see `KeyIndex.compaction`). Any thread.
    public func events(from: Int64, through: Int64, key: [UInt8], end: [UInt8]?, eventsMax: Int) -> Result<[Event], MVCCRefusal> {
        withSnapshot { view, storage in
            if from < view.compactRevision { return .failure(.compacted(compactRevision: view.compactRevision)) }
            let last = min(through, view.currentRevision)
            var events: [Event] = []
            guard from <= last else { return .success(events) }
            var stopAfter: Int64?
            Self.forEachRow(from: Revision(main: from), through: last, view: view, storage: storage) { revision, tombstone, value in
                if let stopAfter, revision.main > stopAfter { return false }
                guard let kv = RowCodec.decode(value) else { preconditionFailure("row \(revision) is not a KeyValue") }
                guard Self.contains(kv.key, key: key, end: end) else { return true }
                if tombstone {
                    events.append(Event(kind: .delete, kv: KeyValue(key: kv.key, createRevision: 0, modRevision: revision.main, version: 0, value: [])))
                } else {
                    events.append(Event(kind: .put, kv: kv))
                }
                if events.count >= eventsMax && stopAfter == nil { stopAfter = revision.main }
                return true
            }
            return .success(events)
        }
    }

    /// The version of `key` live at `revision - 1`, for prev_kv; nil when the key did not exist
    /// then, or when that revision is below the compact revision. Any thread.
    public func previous(_ key: [UInt8], before revision: Int64) -> KeyValue? {
        withSnapshot { view, storage in
            let at = revision - 1
            guard at >= view.compactRevision, at <= view.currentRevision,
                  let found = view.index.get(key, atRevision: at) else { return nil }
            return Self.keyValue(found.modified, overlay: view.overlay, storage: storage)
        }
    }

    /// Whether `candidate` is in the range [`key`, `end`) by Range's rules.
    static func contains(_ candidate: [UInt8], key: [UInt8], end: [UInt8]?) -> Bool {
        guard let end, !end.isEmpty else { return candidate == key }
        if RangeOptions.compareBytes(candidate, key) < 0 { return false }
        return end == [0] || RangeOptions.compareBytes(candidate, end) < 0
    }
}

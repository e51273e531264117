/// The single writer's handle on the revision index: starts from a version, changes it
/// privately (a node is copied the first time this builder touches it in a batch, changed in
/// place after), and freezes the result into a new `IndexVersion` for readers.
///
/// One thread at a time. Reads through the builder see its own changes.
public final class IndexBuilder {
    private let map: PersistentMapBuilder<KeyIndex>

    public init(_ base: IndexVersion) {
        map = PersistentMapBuilder(base.map)
    }

    /// The index as it is now, as a version no later change alters. The builder goes on from
    /// it (copying nodes again before changing them).
    public func freeze() -> IndexVersion {
        IndexVersion(map: map.freeze())
    }

    /// The index as it is now, for reads that end before the next change.
    private var current: IndexVersion { IndexVersion(map: map.current) }

    public var keyCount: Int { map.count }

    /// Checks the B-tree's structure as it is now (for tests; a broken invariant stops the
    /// process).
    func checkStructure() {
        map.current.checkStructure()
    }

    /// Adds a put of `key` at `revision`, which must be above the key's newest revision: the
    /// key's first, the next of its open generation, or the first of a new generation.
    public func put(_ key: [UInt8], _ revision: Revision) {
        map.upsert(key, insert: { KeyIndex(created: revision) }, update: { $0.put(revision) })
    }

    /// Adds a tombstone of `key` at `revision`, ending its generation. Returns false, changing
    /// nothing, when the key is not live.
    public func tombstone(_ key: [UInt8], _ revision: Revision) -> Bool {
        guard map.withValue(key, { $0.isLive }) == true else { return false }
        let done = map.modify(key) { $0.tombstone(revision) }
        precondition(done == true, "tombstone of a live key refused")
        return true
    }

    /// Rebuilds from storage, one row at a time in revision order: a row of `key` at
    /// `revision`, a put (whose KeyValue says `created` and `version`) or a tombstone (whose
    /// `created` and `version` are ignored). The key's first row starts it from what the row
    /// says, since compaction may have dropped the rows before it.
    public func restore(_ key: [UInt8], _ revision: Revision, tombstone: Bool, created: Revision, version: Int64) {
        let known: Void? = map.modify(key) { index in
            if tombstone {
                precondition(index.tombstone(revision), "restored tombstone \(revision) of key \(key), which is not live")
            } else {
                index.put(revision)
                let found = index.get(atRevision: revision.main)
                precondition(found?.version == version && found?.created.main == created.main,
                             "restored put \(revision) of key \(key) says created \(created) version \(version); the index has \(String(describing: found))")
            }
        }
        if known == nil {
            map.set(key, KeyIndex(restoring: revision, tombstone: tombstone, created: created, version: version))
        }
    }

    public func keyIndex(_ key: [UInt8]) -> KeyIndex? {
        map.get(key)
    }

    public func get(_ key: [UInt8], atRevision: Int64) -> (modified: Revision, created: Revision, version: Int64)? {
        map.withValue(key) { $0.get(atRevision: atRevision) } ?? nil
    }

    /// As `IndexVersion.forEach`, over the builder's own changes. `body` must not change the
    /// index.
    public func forEach(from key: [UInt8], to end: [UInt8]?, atRevision: Int64,
                        _ body: (_ key: [UInt8], _ modified: Revision, _ created: Revision, _ version: Int64) -> Bool) {
        current.forEach(from: key, to: end, atRevision: atRevision, body)
    }

    /// As `IndexVersion.forEachDescending`, over the builder's own changes. `body` must not
    /// change the index.
    public func forEachDescending(from key: [UInt8], to end: [UInt8]?, atRevision: Int64,
                                  _ body: (_ key: [UInt8], _ modified: Revision, _ created: Revision, _ version: Int64) -> Bool) {
        current.forEachDescending(from: key, to: end, atRevision: atRevision, body)
    }

    public func count(from key: [UInt8], to end: [UInt8]?, atRevision: Int64) -> Int {
        current.count(from: key, to: end, atRevision: atRevision)
    }

    /// Compaction at main revision `atRevision`, a bounded batch at a time (etcd's compact, per
    /// key as `KeyIndex.compaction` says): visits at most `keysMax` keys from `resume` (the
    /// first key when nil), drops their revisions superseded at `atRevision`, removes keys left
    /// with none, and adds to `keep` every revision at or below `atRevision` that stays (the
    /// rows storage must keep). Returns the key to resume from; nil when no key is left.
    ///
    /// Writes may come between batches: keys they add carry revisions above `atRevision`.
    public func compact(atRevision: Int64, from resume: [UInt8]?, keysMax: Int, keep: inout Set<Revision>) -> [UInt8]? {
        precondition(keysMax > 0, "keysMax \(keysMax)")
        var visited = 0
        var next: [UInt8]?
        var drops: [(key: [UInt8], count: Int, all: Bool)] = []
        map.current.forEach(from: resume) { key, index in
            guard visited < keysMax else {
                next = key
                return false
            }
            visited += 1
            let drop = index.compaction(atRevision: atRevision)
            var position = drop
            while position < index.revisionCount, index.revision(at: position).main <= atRevision {
                keep.insert(index.revision(at: position))
                position += 1
            }
            if drop > 0 { drops.append((key, drop, drop == index.revisionCount)) }
            return true
        }
        // Changes wait until the walk is over: a change may copy or move the nodes it walks.
        for drop in drops {
            if drop.all {
                map.remove(drop.key)
            } else {
                map.modify(drop.key) { $0.dropOldest(drop.count) }
            }
        }
        return next
    }
}

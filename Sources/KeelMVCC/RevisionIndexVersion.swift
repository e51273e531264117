/// One immutable version of the revision index: key bytes → `KeyIndex`, in unsigned byte order.
///
/// A root reference and a count, so copying one is free; no change made through an
/// `IndexBuilder` afterwards alters it. Any thread may read it without a lock.
///
/// Key ranges follow etcd's Range rules, with `end` as a request's range_end: nil or empty
/// means the one key `key`; `[0]` means every key at or above `key`; anything else means the
/// keys in [key, end), none when `end` is not above `key`.
public struct IndexVersion: Sendable {
    let map: PersistentMap<KeyIndex>

    /// An empty index. `nodeCapacity` is the B-tree's fan-out; small ones are for tests.
    public init(nodeCapacity: Int = PersistentMap<KeyIndex>.defaultNodeCapacity) {
        map = PersistentMap(nodeCapacity: nodeCapacity)
    }

    init(map: PersistentMap<KeyIndex>) {
        self.map = map
    }

    /// Keys in the index, live or only holding history.
    public var keyCount: Int { map.count }

    /// Everything the index holds for `key`; nil when it holds nothing.
    public func keyIndex(_ key: [UInt8]) -> KeyIndex? {
        map.get(key)
    }

    /// `key` as of main revision `atRevision`: its newest revision at or below it, its
    /// generation's creation and its version; nil when it did not exist then.
    @inline(__always)
    public func get(_ key: [UInt8], atRevision: Int64) -> (modified: Revision, created: Revision, version: Int64)? {
        map.withValue(key) { $0.get(atRevision: atRevision) } ?? nil
    }

    /// The keys of the range (see the type's rules) that exist at `atRevision`, in ascending
    /// key order, until `body` returns false.
    public func forEach(from key: [UInt8], to end: [UInt8]?, atRevision: Int64,
                        _ body: (_ key: [UInt8], _ modified: Revision, _ created: Revision, _ version: Int64) -> Bool) {
        switch IndexRange(key: key, end: end) {
        case .empty:
            return
        case .single:
            if let found = get(key, atRevision: atRevision) { _ = body(key, found.modified, found.created, found.version) }
        case .from(let upper):
            map.forEach(from: key) { key, index in
                if let upper, compareKeyBytes(key, upper) >= 0 { return false }
                guard let found = index.get(atRevision: atRevision) else { return true }
                return body(key, found.modified, found.created, found.version)
            }
        }
    }

    /// `forEach` in descending key order: for a sort by key, descending, with a limit.
    public func forEachDescending(from key: [UInt8], to end: [UInt8]?, atRevision: Int64,
                                  _ body: (_ key: [UInt8], _ modified: Revision, _ created: Revision, _ version: Int64) -> Bool) {
        switch IndexRange(key: key, end: end) {
        case .empty:
            return
        case .single:
            if let found = get(key, atRevision: atRevision) { _ = body(key, found.modified, found.created, found.version) }
        case .from(let upper):
            let lower = key
            map.forEachDescending(below: upper) { key, index in
                if compareKeyBytes(key, lower) < 0 { return false }
                guard let found = index.get(atRevision: atRevision) else { return true }
                return body(key, found.modified, found.created, found.version)
            }
        }
    }

    /// How many keys of the range exist at `atRevision`.
    public func count(from key: [UInt8], to end: [UInt8]?, atRevision: Int64) -> Int {
        var total = 0
        forEach(from: key, to: end, atRevision: atRevision) { _, _, _, _ in
            total += 1
            return true
        }
        return total
    }

    /// The revisions at or below `atRevision` that a compaction there would keep, leaving out
    /// tombstones: what etcd's HashKV covers at a compact revision (its index Keep). Visits
    /// every key.
    public func revisionsKeptForHash(atRevision: Int64) -> Set<Revision> {
        var kept = Set<Revision>()
        map.forEach(from: nil) { _, index in
            let drop = index.compaction(atRevision: atRevision)
            var position = drop
            while position < index.revisionCount, index.revision(at: position).main <= atRevision {
                if !index.isTombstone(at: position) { kept.insert(index.revision(at: position)) }
                position += 1
            }
            return true
        }
        return kept
    }
}

/// A Range's keys as etcd reads `key` and `range_end`.
enum IndexRange {
    /// No key (the end is not above the start).
    case empty
    /// The one key.
    case single
    /// Every key from the start below `upper` (no bound when nil).
    case from(upper: [UInt8]?)

    init(key: [UInt8], end: [UInt8]?) {
        guard let end, !end.isEmpty else {
            self = .single
            return
        }
        if end == [0] {
            self = .from(upper: nil)
        } else {
            self = compareKeyBytes(key, end) < 0 ? .from(upper: end) : .empty
        }
    }
}

/// Every revision the index still holds for one key, in generations (etcd's keyIndex). The key
/// itself is the index map's: a KeyIndex does not repeat it.
///
/// A generation starts with the put that creates (or re-creates) the key and ends with the
/// tombstone that deletes it; the last generation is open while the key is live, and empty
/// after a tombstone until the next put. The version of a key at a revision is the number of
/// puts of its generation up to that revision, counting those compaction has dropped.
///
/// Stored flat, since most keys have one generation and few revisions: the oldest revision
/// inline; the others ascending, and the positions of the tombstones, in a shared box that a
/// key put once does not have (copying such a KeyIndex, as a path-copied B-tree leaf does for
/// each of its entries, then bumps no reference count at all); and what compaction took from
/// the oldest generation (its creation, its dropped puts).
public struct KeyIndex: Sendable, Hashable {
    /// The oldest revision held: position 0.
    private var first: Revision
    /// The revisions after `first` and the tombstones; nil when there are neither.
    private var more: KeyIndexMore?
    /// The revisions after `first`, ascending: positions 1 and up.
    private var rest: [Revision] { more?.rest ?? [] }
    /// Positions of the tombstones, ascending: each ends a generation.
    private var tombstones: [Int] { more?.tombstones ?? [] }
    /// When the oldest held generation was created: its first put, which compaction may have
    /// dropped. Main revision 0 when unknown (restored from a lone tombstone).
    private var oldestCreated: Revision
    /// Puts of the oldest held generation that compaction dropped (or that a restore skipped).
    private var oldestDroppedPuts: Int64

    /// A key's first put.
    public init(created: Revision) {
        first = created
        more = nil
        oldestCreated = created
        oldestDroppedPuts = 0
    }

    /// A key rebuilt from the oldest row storage holds for it: a put that is the `version`-th
    /// of a generation created at `created`, or a lone tombstone (whose generation's start
    /// compaction dropped).
    public init(restoring revision: Revision, tombstone: Bool, created: Revision, version: Int64) {
        precondition(tombstone || (version >= 1 && created <= revision), "restore \(revision) created \(created) version \(version)")
        first = revision
        more = tombstone ? KeyIndexMore(rest: [], tombstones: [0]) : nil
        oldestCreated = tombstone ? Revision(main: 0) : created
        oldestDroppedPuts = tombstone ? 0 : version - 1
    }

    /// How many revisions are held, puts and tombstones. Never 0.
    @inline(__always)
    public var revisionCount: Int { (more?.rest.count ?? 0) + 1 }

    /// The revision at `position` (0 the oldest) of those held.
    @inline(__always)
    public func revision(at position: Int) -> Revision {
        position == 0 ? first : more!.rest[position - 1]
    }

    /// Every revision held, puts and tombstones, ascending (a new array: for tests and tools).
    public var revisions: [Revision] { [first] + rest }

    /// The newest revision held, put or tombstone.
    public var modified: Revision { more?.rest.last ?? first }

    /// True when the last generation is open: the key exists at `modified`.
    public var isLive: Bool {
        guard let more else { return true }
        return more.tombstones.last != more.rest.count
    }

    /// Adds a put: the next one of the open generation, or the first of a new one after a
    /// tombstone. `revision` must be above `modified`.
    public mutating func put(_ revision: Revision) {
        precondition(revision > modified, "put \(revision) not above modified \(modified)")
        changeMore { $0.rest.append(revision) }
    }

    /// Ends the open generation with a tombstone at `revision` (above `modified`). Returns
    /// false, changing nothing, when the key is not live.
    public mutating func tombstone(_ revision: Revision) -> Bool {
        guard isLive else { return false }
        precondition(revision > modified, "tombstone \(revision) not above modified \(modified)")
        changeMore { more in
            more.rest.append(revision)
            more.tombstones.append(more.rest.count)
        }
        return true
    }

    /// The key as of main revision `atRevision`: its newest revision at or below it, when its
    /// generation was created, and its version. Nil when the key did not exist then (before
    /// its creation, deleted, or compacted away).
    @inline(__always)
    public func get(atRevision: Int64) -> (modified: Revision, created: Revision, version: Int64)? {
        guard more != nil else {
            // A key put once: nothing else to look into.
            guard first.main <= atRevision else { return nil }
            return (first, oldestCreated, 1 + oldestDroppedPuts)
        }
        let position = lastPosition(atOrBelow: atRevision)
        guard position >= 0 else { return nil }
        if tombstones.isEmpty {
            return (revision(at: position), oldestCreated, Int64(position + 1) + oldestDroppedPuts)
        }
        let (start, isTombstone) = generation(of: position)
        if isTombstone { return nil }
        if start == 0 { return (revision(at: position), oldestCreated, Int64(position + 1) + oldestDroppedPuts) }
        return (revision(at: position), revision(at: start), Int64(position - start + 1))
    }

    /// The revisions with main revision at or above `since`, ascending; where several share a
    /// main revision only the last (largest sub) is given, as etcd's keyIndex.since does.
    public func revisions(since: Int64) -> [Revision] {
        var result: [Revision] = []
        for position in 0..<revisionCount {
            let revision = revision(at: position)
            guard revision.main >= since else { continue }
            if let last = result.last, last.main == revision.main {
                result[result.count - 1] = revision
            } else {
                result.append(revision)
            }
        }
        return result
    }

    /// True when the revision at `position` (see `revision(at:)`) is a tombstone.
    public func isTombstone(at position: Int) -> Bool {
        generation(of: position).isTombstone
    }

    /// Changes the box (copied first when a version shares it, made when there is none), and
    /// drops it when left empty, so that a key with one put never has one.
    private mutating func changeMore(_ body: (KeyIndexMore) -> Void) {
        if more == nil {
            more = KeyIndexMore(rest: [], tombstones: [])
        } else if !isKnownUniquelyReferenced(&more) {
            more = KeyIndexMore(rest: more!.rest, tombstones: more!.tombstones)
        }
        body(more!)
        if more!.rest.isEmpty && more!.tombstones.isEmpty { more = nil }
    }

    public static func == (a: KeyIndex, b: KeyIndex) -> Bool {
        a.first == b.first && a.rest == b.rest && a.tombstones == b.tombstones
            && a.oldestCreated == b.oldestCreated && a.oldestDroppedPuts == b.oldestDroppedPuts
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(first)
        hasher.combine(rest)
        hasher.combine(tombstones)
        hasher.combine(oldestCreated)
        hasher.combine(oldestDroppedPuts)
    }

    /// The position of the last revision with main revision at or below `main`; -1 if none.
    @inline(__always)
    private func lastPosition(atOrBelow main: Int64) -> Int {
        guard first.main <= main else { return -1 }
        return rest.withUnsafeBufferPointer { rest in
            // The last of `rest` at or below, as a position (rest[i] is position i + 1).
            var low = 0
            var high = rest.count
            while low < high {
                let middle = (low + high) >> 1
                if rest[middle].main <= main { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    /// Where the generation holding `position` starts (a position), and whether the revision
    /// at `position` is that generation's tombstone.
    private func generation(of position: Int) -> (start: Int, isTombstone: Bool) {
        // The first tombstone at or after the position ends its generation; the one before it
        // ended the previous generation.
        var low = 0
        var high = tombstones.count
        while low < high {
            let middle = (low + high) >> 1
            if tombstones[middle] < position { low = middle + 1 } else { high = middle }
        }
        let start = low == 0 ? 0 : tombstones[low - 1] + 1
        return (start, low < tombstones.count && tombstones[low] == position)
    }
}

extension KeyIndex {
    /// What compaction at main revision `atRevision` does to this key (etcd's doCompact): it
    /// keeps the generation alive at `atRevision` or, if none, the first one after it (the
    /// key's last generation when none is), drops every older generation, and inside the kept
    /// generation drops the revisions before the newest one at or below `atRevision`. A
    /// tombstone at exactly `atRevision` stays, so a watch from there still sees the delete.
    ///
    /// Returns how many of the oldest revisions go: all of them when the key goes. The
    /// revisions left with main revision at or below `atRevision` are the ones compaction
    /// keeps in storage.
    public func compaction(atRevision: Int64) -> Int {
        // The kept generation ends with the first tombstone at or above the compaction.
        var end = revisionCount - 1
        var start = tombstones.last.map { $0 + 1 } ?? 0
        for (ordinal, tombstone) in tombstones.enumerated() where revision(at: tombstone).main >= atRevision {
            end = tombstone
            start = ordinal == 0 ? 0 : tombstones[ordinal - 1] + 1
            break
        }
        guard start <= end else { return start }
        let position = lastPosition(atOrBelow: atRevision)
        return position >= start ? min(position, end) : start
    }

    /// Drops the `count` oldest revisions, keeping what versions and creations of the rest
    /// depend on. `count` must leave at least one revision.
    public mutating func dropOldest(_ count: Int) {
        precondition(count >= 0 && count < revisionCount, "drop \(count) of \(revisionCount) revisions")
        guard count > 0 else { return }
        let (start, _) = generation(of: count)
        if start == 0 {
            // Still the oldest generation: only puts went.
            oldestDroppedPuts += Int64(count)
        } else {
            oldestCreated = revision(at: start)
            oldestDroppedPuts = Int64(count - start)
        }
        first = rest[count - 1]
        changeMore { more in
            more.rest.removeFirst(count)
            more.tombstones = more.tombstones.compactMap { $0 >= count ? $0 - count : nil }
        }
    }
}

/// A KeyIndex's revisions after its oldest, and its tombstones' positions. Changed only through
/// a KeyIndex that holds the only reference (`changeMore` copies it otherwise), so a box that
/// versions share never changes.
final class KeyIndexMore: @unchecked Sendable {
    var rest: [Revision]
    var tombstones: [Int]

    init(rest: [Revision], tombstones: [Int]) {
        self.rest = rest
        self.tombstones = tombstones
    }
}

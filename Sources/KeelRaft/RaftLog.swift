/// The whole log as raft sees it: the stable part in ``RaftStorage`` followed by the
/// ``Unstable`` part, plus the commit and applied marks.
///
/// Invariants: `applied <= committed <= lastIndex`, and `firstIndex - 1 <= applied` once a
/// snapshot has been applied.
struct RaftLog {
    let storage: RaftStorage
    var unstable: Unstable
    private(set) var committed: LogIndex
    private(set) var applied: LogIndex

    init(storage: RaftStorage) {
        self.storage = storage
        let first = storage.firstIndex
        unstable = Unstable(offset: storage.lastIndex.next)
        // Everything up to the snapshot is committed and applied by definition.
        committed = first.previous
        applied = first.previous
    }

    var firstIndex: LogIndex { unstable.firstIndex ?? storage.firstIndex }
    var lastIndex: LogIndex { unstable.lastIndex ?? storage.lastIndex }
    var lastTerm: Term {
        guard let term = term(at: lastIndex) else { preconditionFailure("term of the last index \(lastIndex) unknown") }
        return term
    }

    /// The term at `index`, or nil when it is compacted away or past the end. The index
    /// before `firstIndex` (the snapshot's) still answers.
    func term(at index: LogIndex) -> Term? {
        let dummy = firstIndex.previous
        if index < dummy || index > lastIndex { return nil }
        if let term = unstable.term(at: index) { return term }
        switch storage.term(at: index) {
        case .success(let term): return term
        case .failure(.compacted), .failure(.unavailable): return nil
        case .failure(let refusal): preconditionFailure("storage term(\(index)): \(refusal)")
        }
    }

    func matchTerm(_ index: LogIndex, _ term: Term) -> Bool { self.term(at: index) == term }

    /// Whether a candidate whose log ends at `index` with `term` is at least as up to date.
    func isUpToDate(index: LogIndex, term: Term) -> Bool {
        term > lastTerm || (term == lastTerm && index >= lastIndex)
    }

    /// The index of the first entry of `entries` that conflicts with (or extends) this log,
    /// or nil when all of them are already here.
    func firstConflict(_ entries: [Entry]) -> LogIndex? {
        entries.first { !matchTerm($0.index, $0.term) }?.index
    }

    /// The last index at or before `index` whose term is at most `term` (and that term): a
    /// leader's log cannot match a follower's anywhere after it. Stops at a compacted index.
    func lastIndexWithTerm(atMost term: Term, before index: LogIndex) -> (index: LogIndex, term: Term) {
        var i = index
        while i > .zero {
            guard let t = self.term(at: i) else { return (i, .zero) }
            if t <= term { return (i, t) }
            i = i.previous
        }
        return (.zero, .zero)
    }

    /// Appends a leader's `entries` after `index` (at `logTerm`) if this log has that entry;
    /// returns the new last index of what the message covers, or nil for a mismatch.
    mutating func maybeAppend(index: LogIndex, logTerm: Term, commit: LogIndex, entries: [Entry]) -> LogIndex? {
        guard matchTerm(index, logTerm) else { return nil }
        let lastNew = index.advanced(by: Int64(entries.count))
        if let conflict = firstConflict(entries) {
            precondition(conflict > committed, "entry \(conflict) conflicts with a committed entry (commit \(committed))")
            append(Array(entries[Int(conflict.rawValue - index.rawValue - 1)...]))
        }
        advanceCommit(to: min(commit, lastNew))
        return lastNew
    }

    /// Appends `entries` (contiguous, starting at or before `lastIndex + 1`, after the commit
    /// index) and returns the new last index.
    @discardableResult
    mutating func append(_ entries: [Entry]) -> LogIndex {
        guard let first = entries.first else { return lastIndex }
        precondition(first.index > committed, "append at \(first.index) rewrites committed \(committed)")
        precondition(first.index <= lastIndex.next, "append at \(first.index) leaves a gap after \(lastIndex)")
        unstable.truncateAndAppend(entries)
        return lastIndex
    }

    mutating func advanceCommit(to index: LogIndex) {
        guard index > committed else { return }
        precondition(index <= lastIndex, "commit \(index) is past the last index \(lastIndex)")
        committed = index
    }

    /// Commits `index` if its entry has `term` (a leader only counts replicas of its own term).
    mutating func maybeCommit(_ index: LogIndex, term: Term) -> Bool {
        guard index > committed, self.term(at: index) == term else { return false }
        advanceCommit(to: index)
        return true
    }

    mutating func applied(through index: LogIndex) {
        guard index != .zero else { return }
        precondition(index <= committed && index >= applied, "applied \(index) outside [\(applied), \(committed)]")
        applied = index
    }

    mutating func restore(_ snapshot: Snapshot) {
        committed = snapshot.metadata.index
        unstable.restore(snapshot)
    }

    /// Entries `[low, high)` within `bytesMax` (at least one), or nil when `low` is compacted.
    func slice(_ low: LogIndex, _ high: LogIndex, bytesMax: UInt64) -> [Entry]? {
        precondition(low <= high && high <= lastIndex.next, "slice [\(low), \(high)) past \(lastIndex)")
        if low < firstIndex { return nil }
        if low == high { return [] }
        var result: [Entry] = []
        if low < unstable.offset {
            let storedHigh = min(high, unstable.offset)
            switch storage.entries(from: low, to: storedHigh, bytesMax: bytesMax) {
            case .success(let stored): result = stored
            case .failure(.compacted): return nil
            case .failure(let refusal): preconditionFailure("storage entries [\(low), \(storedHigh)): \(refusal)")
            }
            // Storage stopped early for the byte limit: the unstable part must wait.
            if result.count < Int(storedHigh.rawValue - low.rawValue) { return result }
        }
        if high > unstable.offset {
            let tail = unstable.slice(max(low, unstable.offset), high)
            var total = result.reduce(0) { $0 + $1.sizeBytes }
            for entry in tail {
                total += entry.sizeBytes
                if total > bytesMax && !result.isEmpty { break }
                result.append(entry)
            }
        }
        return result
    }

    /// Entries from `index` to the end, within `bytesMax`; nil when `index` is compacted.
    func entries(from index: LogIndex, bytesMax: UInt64) -> [Entry]? {
        if index > lastIndex { return [] }
        return slice(index, lastIndex.next, bytesMax: bytesMax)
    }

    /// Committed entries not yet applied, within `bytesMax`; none while a snapshot waits to be
    /// applied first.
    func nextCommittedEntries(bytesMax: UInt64) -> [Entry] {
        let low = max(applied.next, firstIndex)
        guard committed >= low, unstable.snapshot == nil else { return [] }
        return slice(low, committed.next, bytesMax: bytesMax) ?? []
    }

    var hasNextCommittedEntries: Bool {
        unstable.snapshot == nil && committed >= max(applied.next, firstIndex)
    }

    /// The newest snapshot: the unstable one, else storage's (nil while it is being made).
    func snapshot() -> Snapshot? {
        if let pending = unstable.snapshot { return pending }
        switch storage.snapshot() {
        case .success(let snap): return snap
        case .failure(.snapshotTemporarilyUnavailable): return nil
        case .failure(let refusal): preconditionFailure("storage snapshot: \(refusal)")
        }
    }
}

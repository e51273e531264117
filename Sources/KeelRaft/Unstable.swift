/// The part of the log not yet handed to storage: an incoming snapshot and entries after
/// the stable log. `entries[i]` has index `offset + i`.
struct Unstable {
    var snapshot: Snapshot?
    var entries: [Entry] = []
    var offset: LogIndex

    init(offset: LogIndex) { self.offset = offset }

    /// The first index if a snapshot is pending (its index + 1).
    var firstIndex: LogIndex? { snapshot.map { $0.metadata.index.next } }

    /// The last index held here, if any.
    var lastIndex: LogIndex? {
        if !entries.isEmpty { return offset.advanced(by: Int64(entries.count - 1)) }
        return snapshot?.metadata.index
    }

    /// The term at `index` if this part knows it.
    func term(at index: LogIndex) -> Term? {
        if index < offset {
            guard let snapshot, snapshot.metadata.index == index else { return nil }
            return snapshot.metadata.term
        }
        guard let last = lastIndex, index <= last else { return nil }
        return entries[Int(index.rawValue - offset.rawValue)].term
    }

    /// Storage now durably holds entries through `index` (at `term`): forget them. A term
    /// mismatch means the entries were replaced meanwhile, so they stay.
    mutating func stable(through index: LogIndex, term: Term) {
        guard let t = self.term(at: index), t == term, index >= offset else { return }
        let count = Int(index.rawValue - offset.rawValue) + 1
        entries.removeFirst(count)
        offset = index.next
    }

    /// Storage now holds the snapshot at `index`.
    mutating func stableSnapshot(at index: LogIndex) {
        if snapshot?.metadata.index == index { snapshot = nil }
    }

    mutating func restore(_ snap: Snapshot) {
        offset = snap.metadata.index.next
        entries = []
        snapshot = snap
    }

    /// Appends `new` (contiguous, non-empty), first dropping any entries at or after its
    /// first index.
    mutating func truncateAndAppend(_ new: [Entry]) {
        let after = new[0].index
        if after == offset.advanced(by: Int64(entries.count)) {
            entries += new
        } else if after <= offset {
            // Replaces everything held here; storage's entries from `after` on are replaced
            // when these are persisted.
            offset = after
            entries = new
        } else {
            entries.removeSubrange(Int(after.rawValue - offset.rawValue)...)
            entries += new
        }
    }

    /// Entries `[low, high)`, all of which must be held here.
    func slice(_ low: LogIndex, _ high: LogIndex) -> ArraySlice<Entry> {
        precondition(low >= offset && low <= high, "unstable slice [\(low), \(high)) outside offset \(offset)")
        precondition(high.rawValue - offset.rawValue <= UInt64(entries.count), "unstable slice [\(low), \(high)) past the end")
        return entries[Int(low.rawValue - offset.rawValue)..<Int(high.rawValue - offset.rawValue)]
    }
}

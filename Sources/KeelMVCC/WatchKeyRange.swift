/// The keys one watcher follows, with Range's rules for `end`.
struct WatchKeyRange: Hashable, Sendable {
    let key: [UInt8]
    /// nil: `key` alone; `[0]`: every key `>= key`; otherwise `[key, end)`.
    let end: [UInt8]?

    var isSingleKey: Bool { end == nil }

    func contains(_ candidate: [UInt8]) -> Bool {
        guard let end else { return candidate == key }
        if candidate.lexicographicallyPrecedes(key) { return false }
        return end == [0] || candidate.lexicographicallyPrecedes(end)
    }

    /// The smallest range holding every one of `ranges` (for one history read serving many
    /// watchers).
    static func covering(_ ranges: [WatchKeyRange]) -> WatchKeyRange {
        precondition(!ranges.isEmpty)
        if ranges.allSatisfy({ $0 == ranges[0] }) { return ranges[0] }
        var low = ranges[0].key
        var high: [UInt8] = []
        var unbounded = false
        for range in ranges {
            if range.key.lexicographicallyPrecedes(low) { low = range.key }
            // A single key k is the range [k, k + 0x00).
            let rangeEnd = range.end ?? range.key + [0]
            if rangeEnd == [0] { unbounded = true }
            if high.lexicographicallyPrecedes(rangeEnd) { high = rangeEnd }
        }
        return WatchKeyRange(key: low, end: unbounded ? [0] : high)
    }
}

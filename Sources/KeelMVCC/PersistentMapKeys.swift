/// The keys of one `PersistentMap` node, ascending, stored for a cheap copy and a cheap search:
/// every key's bytes back to back in one buffer, where each ends, and a search word per key.
///
/// One buffer instead of one array per key: a path-copied node then costs three reference
/// count bumps rather than one per key (each a cache miss on a large tree, paid again when the
/// old version is released), and a search reads one buffer rather than one allocation per step.
///
/// A search compares 8-byte words first: per key, its 8 bytes after the prefix all keys share,
/// big-endian, zero-padded; keys with equal words are settled on their whole bytes.
struct PersistentMapKeys: Sendable {
    /// Every key's bytes back to back, in key order.
    private(set) var bytes: [UInt8] = []
    /// Where each key ends in `bytes`; key i starts where key i - 1 ends (key 0 at 0).
    private(set) var ends: [UInt32] = []
    /// How many leading bytes all the keys share.
    private(set) var sharedPrefixCount = 0
    /// Per key, its search word (see the type's comment).
    private(set) var words: [UInt64] = []
    /// How many keys: kept beside the arrays (in the node object) so that a search of an
    /// internal node does not read the header of `ends`, a cache miss of its own.
    private(set) var count = 0

    init() {}

    init(_ keys: some Sequence<[UInt8]>) {
        for key in keys { appendBytes(key) }
        refreshWords()
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func start(_ index: Int) -> Int { index == 0 ? 0 : Int(ends[index - 1]) }

    /// Key `index` as an array of its own (an allocation: for separators and visitors).
    subscript(index: Int) -> [UInt8] {
        Array(bytes[start(index)..<Int(ends[index])])
    }

    /// Calls `body` with the bytes of key `index`, valid only inside it.
    @inline(__always)
    func withKey<Result>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        let from = start(index)
        let to = Int(ends[index])
        return bytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[from..<to])) }
    }

    /// Negative, zero or positive as key `index` sorts before, equal to or after `probe`.
    @inline(__always)
    func compare(_ index: Int, _ probe: UnsafeBufferPointer<UInt8>) -> Int {
        withKey(index) { compareKeyBytes($0, probe) }
    }

    @inline(__always)
    func compare(_ index: Int, _ probe: [UInt8]) -> Int {
        probe.withUnsafeBufferPointer { compare(index, $0) }
    }

    // MARK: Changes

    mutating func insert(_ key: [UInt8], at index: Int) {
        precondition(index >= 0 && index <= count)
        let at = start(index)
        bytes.insert(contentsOf: key, at: at)
        let length = UInt32(key.count)
        ends.insert(UInt32(at) + length, at: index)
        count += 1
        for later in (index + 1)..<ends.count { ends[later] += length }
        let shared = sharedPrefixCount
        if sharesWords(shared) {
            words.insert(key.withUnsafeBufferPointer { Self.word($0, at: shared) }, at: index)
        } else {
            refreshWords()
        }
    }

    mutating func append(_ key: [UInt8]) {
        insert(key, at: count)
    }

    mutating func remove(at index: Int) {
        precondition(index >= 0 && index < count)
        let from = start(index)
        let to = Int(ends[index])
        bytes.removeSubrange(from..<to)
        ends.remove(at: index)
        count -= 1
        let length = UInt32(to - from)
        for later in index..<ends.count { ends[later] -= length }
        if sharesWords(sharedPrefixCount) {
            words.remove(at: index)
        } else {
            refreshWords()
        }
    }

    /// Replaces key `index` with `key`, which must keep the order.
    mutating func replace(at index: Int, with key: [UInt8]) {
        remove(at: index)
        insert(key, at: index)
    }

    mutating func append(contentsOf other: PersistentMapKeys) {
        for index in 0..<other.count { other.withKey(index) { appendBytes($0) } }
        refreshWords()
    }

    /// Drops the keys from `index` on.
    mutating func removeSuffix(from index: Int) {
        precondition(index >= 0 && index <= count)
        bytes.removeSubrange(start(index)...)
        ends.removeSubrange(index...)
        count = index
        refreshWords()
    }

    /// The keys in `range`, as keys of their own.
    func slice(_ range: Range<Int>) -> PersistentMapKeys {
        var result = PersistentMapKeys()
        for index in range { withKey(index) { result.appendBytes($0) } }
        result.refreshWords()
        return result
    }

    func suffix(from index: Int) -> PersistentMapKeys { slice(index..<count) }
    func prefix(_ length: Int) -> PersistentMapKeys { slice(0..<length) }

    private mutating func appendBytes(_ key: some Collection<UInt8>) {
        bytes.append(contentsOf: key)
        ends.append(UInt32(bytes.count))
        count += 1
    }

    // MARK: Search words

    /// The prefix the first and last keys share (so, keys being sorted, all of them).
    private func computeSharedPrefix() -> Int {
        guard count > 1 else { return count == 1 ? Int(ends[0]) : 0 }
        return bytes.withUnsafeBufferPointer { all in
            let firstEnd = Int(ends[0])
            let lastStart = start(count - 1)
            let limit = min(firstEnd, Int(ends[count - 1]) - lastStart)
            var shared = 0
            while shared < limit, all[shared] == all[lastStart + shared] { shared += 1 }
            return shared
        }
    }

    /// True when, after a change of one key, the shared prefix is still `shared`: then only
    /// that key's word changes.
    private func sharesWords(_ shared: Int) -> Bool {
        computeSharedPrefix() == shared
    }

    private mutating func refreshWords() {
        let shared = computeSharedPrefix()
        sharedPrefixCount = shared
        var refreshed = [UInt64]()
        refreshed.reserveCapacity(count)
        for index in 0..<count { refreshed.append(withKey(index) { Self.word($0, at: shared) }) }
        words = refreshed
    }

    /// The 8 bytes of `key` from `offset`, big-endian, zero-padded past its end.
    @inline(__always)
    static func word(_ key: UnsafeBufferPointer<UInt8>, at offset: Int) -> UInt64 {
        var word: UInt64 = 0
        let available = key.count - offset
        if available >= 8 {
            word = UInt64(bigEndian: UnsafeRawPointer(key.baseAddress! + offset).loadUnaligned(as: UInt64.self))
        } else if available > 0 {
            for index in 0..<available { word |= UInt64(key[offset + index]) << (56 - 8 * UInt64(index)) }
        }
        return word
    }

    // MARK: Search

    /// The number of keys below `probe` (or, with `upper`, at or below it).
    ///
    /// Touches `bytes` and `ends` only for a shared prefix or equal words: an internal node's
    /// search usually reads its words alone.
    @inline(__always)
    func search(_ probe: UnsafeBufferPointer<UInt8>, upper: Bool) -> Int {
        let count = self.count
        guard count > 0 else { return 0 }
        let shared = sharedPrefixCount
        if shared > 0 {
            // A probe outside the shared prefix sorts before or after every key.
            let order = bytes.withUnsafeBufferPointer { compareBytes($0, probe, count: min(shared, probe.count)) }
            if order > 0 || (order == 0 && probe.count < shared) { return 0 }
            if order < 0 { return count }
        }
        let word = Self.word(probe, at: shared)
        // Keys with a smaller word are below the probe, those with a larger one above.
        var (low, tiesEnd) = words.withUnsafeBufferPointer { words in
            var low = 0
            var high = count
            while low < high {
                let middle = (low + high) >> 1
                if words[middle] < word { low = middle + 1 } else { high = middle }
            }
            var tiesEnd = low
            while tiesEnd < count, words[tiesEnd] == word { tiesEnd += 1 }
            return (low, tiesEnd)
        }
        guard low < tiesEnd else { return low }
        // Equal words (often one: the key itself): settle on the whole keys.
        var high = tiesEnd
        bytes.withUnsafeBufferPointer { all in
            ends.withUnsafeBufferPointer { ends in
                while low < high {
                    let middle = (low + high) >> 1
                    let from = middle == 0 ? 0 : Int(ends[middle - 1])
                    let key = UnsafeBufferPointer(rebasing: all[from..<Int(ends[middle])])
                    let order = compareKeyBytes(key, probe)
                    if order < 0 || (order == 0 && upper) { low = middle + 1 } else { high = middle }
                }
            }
        }
        return low
    }

    /// Checks the words and ends against the bytes (for `checkStructure`).
    func checkWords() {
        precondition(words.count == count && ends.count == count && (ends.last.map { Int($0) } ?? 0) == bytes.count,
                     "node keys out of date")
        precondition(sharedPrefixCount == computeSharedPrefix(), "shared prefix out of date")
        for index in 0..<count {
            precondition(withKey(index) { Self.word($0, at: sharedPrefixCount) } == words[index], "search words out of date")
            if index > 0 { precondition(withKey(index) { compare(index - 1, $0) } < 0, "keys out of order") }
        }
    }
}

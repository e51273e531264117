#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One node of a `PersistentMap` B+tree.
///
/// A node belongs to the builder whose `owner` token it carries: only that builder changes it,
/// and only until it freezes. Every other builder copies a node before changing it, so a node
/// reachable from a frozen `PersistentMap` never changes again and any number of threads may
/// read it without a lock (the publication that handed the map over orders the writes).
final class PersistentMapNode<Value>: @unchecked Sendable {
    /// The builder allowed to change this node in place (see `PersistentMapOwner`).
    let owner: UInt64
    let isLeaf: Bool
    /// A leaf: its entries' keys, ascending. An internal node: the separators, one fewer than
    /// the children; every key under `children[i]` is below `keys[i]`, and every key under
    /// `children[i + 1]` is at least `keys[i]`. A separator may outlive the key it was copied
    /// from (removals do not rewrite separators); it stays a valid bound.
    @exclusivity(unchecked) var keys: [[UInt8]] {
        didSet { refreshSearchWords() }
    }
    /// How many leading bytes all of `keys` share.
    @exclusivity(unchecked) private(set) var sharedPrefixCount = 0
    /// Per key, its 8 bytes after the shared prefix, big-endian, zero-padded: a binary search
    /// over these stays in one array instead of touching a separate key allocation per step
    /// (a cache miss each on a large tree). Equal words are settled on the whole keys.
    @exclusivity(unchecked) private(set) var searchWords: [UInt64] = []
    /// A leaf's values, parallel to `keys`; empty in an internal node.
    @exclusivity(unchecked) var values: [Value]
    /// An internal node's children; empty in a leaf.
    @exclusivity(unchecked) var children: [PersistentMapNode<Value>]

    init(owner: UInt64, isLeaf: Bool, keys: [[UInt8]], values: [Value], children: [PersistentMapNode<Value>]) {
        precondition(isLeaf ? keys.count == values.count && children.isEmpty : keys.count + 1 == children.count && values.isEmpty)
        self.owner = owner
        self.isLeaf = isLeaf
        self.keys = keys
        self.values = values
        self.children = children
        refreshSearchWords()
    }

    private func refreshSearchWords() {
        guard let first = keys.first, let last = keys.last else {
            sharedPrefixCount = 0
            searchWords = []
            return
        }
        // Keys are sorted: what the first and last share, all share.
        var shared = 0
        let limit = min(first.count, last.count)
        while shared < limit, first[shared] == last[shared] { shared += 1 }
        sharedPrefixCount = shared
        searchWords = keys.map { key in key.withUnsafeBufferPointer { Self.word($0, at: shared) } }
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

    /// A copy `owner` may change. The arrays are shared until the first change copies them.
    func copy(owner: UInt64) -> PersistentMapNode<Value> {
        PersistentMapNode(owner: owner, isLeaf: isLeaf, keys: keys, values: values, children: children)
    }

    /// Entries in a leaf, children in an internal node: what the fan-out bounds.
    var size: Int { isLeaf ? keys.count : children.count }

    /// The index of the first key that is not below `key` (`keys.count` when all are below).
    @inline(__always)
    func lowerBound(_ key: [UInt8]) -> Int {
        key.withUnsafeBufferPointer { search($0, upper: false) }
    }

    /// In an internal node, the child whose key range holds `key`: the number of separators
    /// at or below it.
    @inline(__always)
    func childIndex(_ key: [UInt8]) -> Int {
        key.withUnsafeBufferPointer { search($0, upper: true) }
    }

    /// The number of keys below `probe` (or, with `upper`, at or below it).
    @inline(__always)
    private func search(_ probe: UnsafeBufferPointer<UInt8>, upper: Bool) -> Int {
        let count = keys.count
        guard count > 0 else { return 0 }
        let shared = sharedPrefixCount
        if shared > 0 {
            // A probe outside the shared prefix sorts before or after every key.
            let order = keys[0].withUnsafeBufferPointer { first in
                let common = min(shared, probe.count)
                let bytes = memcmp(first.baseAddress!, probe.baseAddress!, common)
                return bytes != 0 ? Int(bytes) : (probe.count < shared ? 1 : 0)
            }
            if order > 0 { return 0 }
            if order < 0 { return count }
        }
        let word = Self.word(probe, at: shared)
        return searchWords.withUnsafeBufferPointer { words in
            // Keys with a smaller word are below the probe, those with a larger one above.
            var low = 0
            var high = count
            while low < high {
                let middle = (low + high) >> 1
                if words[middle] < word { low = middle + 1 } else { high = middle }
            }
            guard low < count, words[low] == word else { return low }
            var tiesEnd = low + 1
            while tiesEnd < count, words[tiesEnd] == word { tiesEnd += 1 }
            // Equal words (often one: the key itself): settle on the whole keys.
            high = tiesEnd
            while low < high {
                let middle = (low + high) >> 1
                let order = compareKeyBytes(keys[middle], probe)
                if order < 0 || (order == 0 && upper) { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }
}

/// Owner tokens: each builder draws a fresh one when it starts and after each freeze, so the
/// nodes of a frozen version (carrying an older token) are never changed in place again.
enum PersistentMapOwner {
    private static let next = Atomic<UInt64>(1)

    static func fresh() -> UInt64 {
        next.wrappingAdd(1, ordering: .relaxed).newValue
    }
}

/// Unsigned lexicographic byte order, as etcd compares keys: negative, zero or positive as `a`
/// sorts before, equal to or after `b`.
@inline(__always)
func compareKeyBytes(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Int {
    a.withUnsafeBufferPointer { a in
        let common = min(a.count, b.count)
        if common > 0 {
            let order = memcmp(a.baseAddress!, b.baseAddress!, common)
            if order != 0 { return Int(order) }
        }
        return a.count - b.count
    }
}

@inline(__always)
func compareKeyBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    b.withUnsafeBufferPointer { compareKeyBytes(a, $0) }
}

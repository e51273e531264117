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
    @exclusivity(unchecked) var keys: PersistentMapKeys
    /// A leaf's values, parallel to `keys`; empty in an internal node.
    @exclusivity(unchecked) var values: [Value]
    /// An internal node's children; empty in a leaf.
    @exclusivity(unchecked) var children: [PersistentMapNode<Value>]

    init(owner: UInt64, isLeaf: Bool, keys: PersistentMapKeys, values: [Value], children: [PersistentMapNode<Value>]) {
        precondition(isLeaf ? keys.count == values.count && children.isEmpty : keys.count + 1 == children.count && values.isEmpty)
        self.owner = owner
        self.isLeaf = isLeaf
        self.keys = keys
        self.values = values
        self.children = children
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
        key.withUnsafeBufferPointer { keys.search($0, upper: false) }
    }

    /// In an internal node, the child whose key range holds `key`: the number of separators
    /// at or below it.
    @inline(__always)
    func childIndex(_ key: [UInt8]) -> Int {
        key.withUnsafeBufferPointer { keys.search($0, upper: true) }
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
    a.withUnsafeBufferPointer { compareKeyBytes($0, b) }
}

@inline(__always)
func compareKeyBytes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
    let common = min(a.count, b.count)
    if common > 0 {
        let order = memcmp(a.baseAddress!, b.baseAddress!, common)
        if order != 0 { return Int(order) }
    }
    return a.count - b.count
}

@inline(__always)
func compareKeyBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    b.withUnsafeBufferPointer { compareKeyBytes(a, $0) }
}

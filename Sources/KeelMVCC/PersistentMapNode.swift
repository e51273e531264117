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
    let order = compareBytes(a, b, count: min(a.count, b.count))
    return order != 0 ? order : a.count - b.count
}

/// Unsigned order of the first `count` bytes of `a` and `b`: negative, zero or positive.
///
/// In Swift rather than memcmp: around an opaque C call the optimizer must assume any memory
/// may change, so a search calling it retains every array it reads from a node (atomic
/// increments on the upper nodes' arrays, which all reader threads share); 8 bytes at a time,
/// keys are short.
@inline(__always)
func compareBytes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, count: Int) -> Int {
    var offset = 0
    while offset + 8 <= count {
        let x = UInt64(bigEndian: UnsafeRawPointer(a.baseAddress! + offset).loadUnaligned(as: UInt64.self))
        let y = UInt64(bigEndian: UnsafeRawPointer(b.baseAddress! + offset).loadUnaligned(as: UInt64.self))
        if x != y { return x < y ? -1 : 1 }
        offset += 8
    }
    while offset < count {
        let x = a[offset]
        let y = b[offset]
        if x != y { return x < y ? -1 : 1 }
        offset += 1
    }
    return 0
}

@inline(__always)
func compareKeyBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    b.withUnsafeBufferPointer { compareKeyBytes(a, $0) }
}

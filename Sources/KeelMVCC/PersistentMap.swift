/// An immutable ordered map from key bytes to values, ordered by unsigned byte comparison: one
/// version of a persistent (path-copying) B+tree.
///
/// A version is a root reference and a count: copying it is free, and no later change made
/// through a `PersistentMapBuilder` alters it. Any thread may read it without a lock.
public struct PersistentMap<Value>: @unchecked Sendable {
    // Sendable when frozen nodes are: they never change after `freeze()` (see the node's
    // contract); the values themselves must be safe to read from several threads.
    let root: PersistentMapNode<Value>?
    /// Entries in the map.
    public let count: Int
    /// The most entries in a leaf and children in an internal node.
    public let nodeCapacity: Int

    public static var defaultNodeCapacity: Int { 64 }

    /// An empty map. `nodeCapacity` (at least 4) is the fan-out; small ones are for tests.
    public init(nodeCapacity: Int = defaultNodeCapacity) {
        precondition(nodeCapacity >= 4, "nodeCapacity \(nodeCapacity) is below 4")
        self.init(root: nil, count: 0, nodeCapacity: nodeCapacity)
    }

    init(root: PersistentMapNode<Value>?, count: Int, nodeCapacity: Int) {
        self.root = root
        self.count = count
        self.nodeCapacity = nodeCapacity
    }

    public var isEmpty: Bool { count == 0 }

    public func get(_ key: [UInt8]) -> Value? {
        root?.find(key)
    }

    /// Calls `body` on the value of `key` in place (no copy); nil when `key` is absent.
    @inline(__always)
    public func withValue<Result>(_ key: [UInt8], _ body: (borrowing Value) -> Result) -> Result? {
        root?.withValue(key, body)
    }

    /// Visits the entries with keys at or above `lowerBound` (every entry when nil) in
    /// ascending key order, until `body` returns false. Returns false when `body` stopped it.
    @discardableResult
    public func forEach(from lowerBound: [UInt8]?, _ body: (_ key: [UInt8], _ value: Value) -> Bool) -> Bool {
        root?.ascend(from: lowerBound, body) ?? true
    }

    /// Visits the entries with keys below `upperBound` (every entry when nil) in descending
    /// key order, until `body` returns false. Returns false when `body` stopped it.
    @discardableResult
    public func forEachDescending(below upperBound: [UInt8]?, _ body: (_ key: [UInt8], _ value: Value) -> Bool) -> Bool {
        root?.descend(below: upperBound, body) ?? true
    }

    /// Checks the B+tree's structure: key order, separators, fan-out, equal leaf depth, count.
    /// For tests; a broken invariant stops the process.
    func checkStructure() {
        guard let root else {
            precondition(count == 0, "empty tree with count \(count)")
            return
        }
        var entries = 0
        var leafDepth: Int?
        root.check(isRoot: true, lower: nil, upper: nil, depth: 0, capacity: nodeCapacity, entries: &entries, leafDepth: &leafDepth)
        precondition(entries == count, "tree holds \(entries) entries, count says \(count)")
    }
}

extension PersistentMapNode {
    func find(_ key: [UInt8]) -> Value? {
        withValue(key) { $0 }
    }

    /// Calls `body` on the value of `key` where it lies, without copying it (a copy retains
    /// every reference it holds: cache misses on a large tree); nil when `key` is absent.
    @inline(__always)
    func withValue<Result>(_ key: [UInt8], _ body: (borrowing Value) -> Result) -> Result? {
        // The caller's reference to this node keeps the whole subtree alive: walk it unretained.
        var node = Unmanaged.passUnretained(self)
        while true {
            let next: Unmanaged<PersistentMapNode<Value>>? = node._withUnsafeGuaranteedRef { node in
                if node.isLeaf { return nil }
                let index = node.childIndex(key)
                return node.children.withUnsafeBufferPointer { Unmanaged.passUnretained($0[index]) }
            }
            guard let next else { break }
            node = next
        }
        return node._withUnsafeGuaranteedRef { leaf in
            let index = leaf.lowerBound(key)
            guard index < leaf.keys.count, leaf.keys.compare(index, key) == 0 else { return nil }
            return leaf.values.withUnsafeBufferPointer { body($0[index]) }
        }
    }

    func ascend(from lowerBound: [UInt8]?, _ body: (_ key: [UInt8], _ value: Value) -> Bool) -> Bool {
        if isLeaf {
            let start = lowerBound.map { self.lowerBound($0) } ?? 0
            for index in start..<keys.count where !body(keys[index], values[index]) { return false }
            return true
        }
        let start = lowerBound.map { childIndex($0) } ?? 0
        if !children[start].ascend(from: lowerBound, body) { return false }
        for index in (start + 1)..<children.count where !children[index].ascend(from: nil, body) { return false }
        return true
    }

    func descend(below upperBound: [UInt8]?, _ body: (_ key: [UInt8], _ value: Value) -> Bool) -> Bool {
        if isLeaf {
            let end = upperBound.map { self.lowerBound($0) } ?? keys.count
            for index in stride(from: end - 1, through: 0, by: -1) where !body(keys[index], values[index]) { return false }
            return true
        }
        // Separators below the bound leave their right child a candidate; the first one at or
        // above it rules out everything to its right.
        let last = upperBound.map { self.lowerBound($0) } ?? children.count - 1
        if !children[last].descend(below: upperBound, body) { return false }
        for index in stride(from: last - 1, through: 0, by: -1) where !children[index].descend(below: nil, body) { return false }
        return true
    }

    // swiftlint:disable:next function_parameter_count
    func check(isRoot: Bool, lower: [UInt8]?, upper: [UInt8]?, depth: Int, capacity: Int,
               entries: inout Int, leafDepth: inout Int?) {
        precondition(size <= capacity, "node of \(size) over capacity \(capacity)")
        precondition(isRoot ? (isLeaf ? size >= 1 : size >= 2) : size >= capacity / 2,
                     "node of \(size) under the minimum for capacity \(capacity)")
        keys.checkWords()
        if let lower, !keys.isEmpty { precondition(keys.compare(0, lower) >= 0, "key below its separator") }
        if let upper, !keys.isEmpty { precondition(keys.compare(keys.count - 1, upper) < 0, "key at or above its separator") }
        if isLeaf {
            precondition(leafDepth == nil || leafDepth == depth, "leaves at depths \(leafDepth!) and \(depth)")
            leafDepth = depth
            entries += keys.count
            return
        }
        for (index, child) in children.enumerated() {
            child.check(isRoot: false, lower: index == 0 ? lower : keys[index - 1],
                        upper: index == keys.count ? upper : keys[index], depth: depth + 1,
                        capacity: capacity, entries: &entries, leafDepth: &leafDepth)
        }
    }
}

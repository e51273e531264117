/// The single writer's handle on a `PersistentMap`: starts from a version, changes it
/// privately, and freezes the result into a new version.
///
/// The first change to a node in a batch copies it (and the path above it); later changes in
/// the same batch change the copy in place, since no version can see it yet. `freeze()` ends
/// the batch: the builder takes a new owner token, so it copies again before touching any
/// node the frozen version holds. One thread at a time; the versions it freezes are for any.
public final class PersistentMapBuilder<Value> {
    private var root: PersistentMapNode<Value>?
    public private(set) var count: Int
    public let nodeCapacity: Int
    private var owner: UInt64

    public init(_ base: PersistentMap<Value>) {
        root = base.root
        count = base.count
        nodeCapacity = base.nodeCapacity
        owner = PersistentMapOwner.fresh()
    }

    /// The map as it is now. It stays valid as a version only until the next change through
    /// this builder (that change may happen in place): use `freeze()` to hand a map to others.
    var current: PersistentMap<Value> {
        PersistentMap(root: root, count: count, nodeCapacity: nodeCapacity)
    }

    /// The map as it is now, as a version no later change alters.
    public func freeze() -> PersistentMap<Value> {
        owner = PersistentMapOwner.fresh()
        return PersistentMap(root: root, count: count, nodeCapacity: nodeCapacity)
    }

    public func get(_ key: [UInt8]) -> Value? {
        root?.find(key)
    }

    /// Calls `body` on the value of `key` in place (no copy); nil when `key` is absent.
    public func withValue<Result>(_ key: [UInt8], _ body: (borrowing Value) -> Result) -> Result? {
        root?.withValue(key, body)
    }

    /// Changes the value of `key` in place and returns what `body` returns; nil (and `body`
    /// is not called) when `key` is absent.
    public func modify<Result>(_ key: [UInt8], _ body: (inout Value) -> Result) -> Result? {
        guard root != nil, root!.withValue(key, { _ in () }) != nil else { return nil }
        let path = ownedPath(to: key)
        let leaf = path.leaf
        let index = leaf.lowerBound(key)
        return body(&leaf.values[index])
    }

    /// Adds `key` with `value`, or replaces the value when `key` is present. Returns true
    /// when it added.
    @discardableResult
    public func set(_ key: [UInt8], _ value: Value) -> Bool {
        guard root != nil else {
            root = PersistentMapNode(owner: owner, isLeaf: true, keys: PersistentMapKeys([key]), values: [value], children: [])
            count = 1
            return true
        }
        let path = ownedPath(to: key)
        let leaf = path.leaf
        let index = leaf.lowerBound(key)
        if index < leaf.keys.count, leaf.keys.compare(index, key) == 0 {
            leaf.values[index] = value
            return false
        }
        leaf.keys.insert(key, at: index)
        leaf.values.insert(value, at: index)
        count += 1
        splitOverfull(path)
        return true
    }

    /// Changes the value of `key` in place with `update`, or adds it with the value `insert`
    /// makes when it is absent: one descent either way.
    public func upsert(_ key: [UInt8], insert: () -> Value, update: (inout Value) -> Void) {
        guard root != nil else {
            set(key, insert())
            return
        }
        let path = ownedPath(to: key)
        let leaf = path.leaf
        let index = leaf.lowerBound(key)
        if index < leaf.keys.count, leaf.keys.compare(index, key) == 0 {
            update(&leaf.values[index])
            return
        }
        leaf.keys.insert(key, at: index)
        leaf.values.insert(insert(), at: index)
        count += 1
        splitOverfull(path)
    }

    /// Removes `key`; returns its value, nil when it was absent.
    @discardableResult
    public func remove(_ key: [UInt8]) -> Value? {
        guard root != nil, root!.withValue(key, { _ in () }) != nil else { return nil }
        let path = ownedPath(to: key)
        let leaf = path.leaf
        let index = leaf.lowerBound(key)
        leaf.keys.remove(at: index)
        let value = leaf.values.remove(at: index)
        count -= 1
        rebalanceUnderfull(path)
        return value
    }

    /// The nodes from the root to the leaf where `key` belongs, each one owned by this builder
    /// (copied on first touch, and linked into its owned parent), with the child index taken
    /// at each internal node.
    private struct Path {
        var nodes: [PersistentMapNode<Value>] = []
        var indices: [Int] = []
        var leaf: PersistentMapNode<Value> { nodes[nodes.count - 1] }
    }

    private func owned(_ node: PersistentMapNode<Value>) -> PersistentMapNode<Value> {
        node.owner == owner ? node : node.copy(owner: owner)
    }

    private func ownedPath(to key: [UInt8]) -> Path {
        var path = Path()
        var node = owned(root!)
        root = node
        while !node.isLeaf {
            let index = node.childIndex(key)
            let child = owned(node.children[index])
            if child !== node.children[index] { node.children[index] = child }
            path.nodes.append(node)
            path.indices.append(index)
            node = child
        }
        path.nodes.append(node)
        return path
    }

    /// Splits the leaf of `path` if an insertion made it overfull, and every ancestor the split
    /// made overfull in turn; a root split adds a level.
    private func splitOverfull(_ path: Path) {
        var level = path.nodes.count - 1
        while level >= 0, path.nodes[level].size > nodeCapacity {
            let node = path.nodes[level]
            let (separator, right) = split(node)
            if level == 0 {
                root = PersistentMapNode(owner: owner, isLeaf: false, keys: PersistentMapKeys([separator]), values: [],
                                         children: [node, right])
            } else {
                let parent = path.nodes[level - 1]
                let index = path.indices[level - 1]
                parent.keys.insert(separator, at: index)
                parent.children.insert(right, at: index + 1)
            }
            level -= 1
        }
    }

    /// Moves the upper half of an owned node into a new right sibling; returns the separator
    /// for the parent and the sibling.
    private func split(_ node: PersistentMapNode<Value>) -> ([UInt8], PersistentMapNode<Value>) {
        let half = (node.size + 1) / 2
        if node.isLeaf {
            let right = PersistentMapNode(owner: owner, isLeaf: true, keys: node.keys.suffix(from: half),
                                          values: Array(node.values[half...]), children: [])
            node.keys.removeSuffix(from: half)
            node.values.removeSubrange(half...)
            return (right.keys[0], right)
        }
        // Children [0, half) stay; separator half - 1 moves up; the rest go right.
        let separator = node.keys[half - 1]
        let right = PersistentMapNode(owner: owner, isLeaf: false, keys: node.keys.suffix(from: half),
                                      values: [], children: Array(node.children[half...]))
        node.keys.removeSuffix(from: half - 1)
        node.children.removeSubrange(half...)
        return (separator, right)
    }

    /// After a removal from the leaf of `path`: merges or refills every node the removal left
    /// below half full, bottom up, and drops a root left with one child (or no entry).
    private func rebalanceUnderfull(_ path: Path) {
        var level = path.nodes.count - 1
        while level > 0, path.nodes[level].size < nodeCapacity / 2 {
            rebalance(parent: path.nodes[level - 1], child: path.indices[level - 1])
            level -= 1
        }
        if let top = root {
            if top.isLeaf, top.keys.isEmpty { root = nil }
            if !top.isLeaf, top.children.count == 1 { root = top.children[0] }
        }
    }

    /// Merges the underfull child at `index` of an owned parent with a neighbour when both fit
    /// in one node, else evens out the entries between the two.
    private func rebalance(parent: PersistentMapNode<Value>, child index: Int) {
        let leftIndex = index > 0 ? index - 1 : index
        let left = owned(parent.children[leftIndex])
        let right = owned(parent.children[leftIndex + 1])
        parent.children[leftIndex] = left
        parent.children[leftIndex + 1] = right
        let separator = parent.keys[leftIndex]
        if left.size + right.size <= nodeCapacity {
            if !left.isLeaf { left.keys.append(separator) }
            left.keys.append(contentsOf: right.keys)
            left.values.append(contentsOf: right.values)
            left.children.append(contentsOf: right.children)
            parent.keys.remove(at: leftIndex)
            parent.children.remove(at: leftIndex + 1)
            return
        }
        let half = (left.size + right.size) / 2
        if left.isLeaf {
            var keys = left.keys
            keys.append(contentsOf: right.keys)
            let values = left.values + right.values
            left.keys = keys.prefix(half)
            left.values = Array(values[..<half])
            right.keys = keys.suffix(from: half)
            right.values = Array(values[half...])
            parent.keys.replace(at: leftIndex, with: right.keys[0])
        } else {
            var keys = left.keys
            keys.append(separator)
            keys.append(contentsOf: right.keys)
            let children = left.children + right.children
            left.keys = keys.prefix(half - 1)
            left.children = Array(children[..<half])
            parent.keys.replace(at: leftIndex, with: keys[half - 1])
            right.keys = keys.suffix(from: half)
            right.children = Array(children[half...])
        }
    }
}

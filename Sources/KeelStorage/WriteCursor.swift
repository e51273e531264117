/// Walks one bucket of a write transaction in key order, seeing the transaction's own puts
/// and deletes. Returns copies of keys and values.
///
/// The transaction may change the bucket between two calls (puts and deletes through it,
/// which may split or rebuild the nodes the cursor passed through), so the cursor keeps no
/// path: it remembers the last key it returned, and every call finds its place again from the
/// bucket's current root. `next()` after deleting the current key therefore gives the key
/// that followed it. A call costs one descent, O(log n).
public final class WriteCursor: @unchecked Sendable {
    private let transaction: WriteTransaction
    private let bucket: [UInt8]
    /// The key the last call returned; nil before the first call or after one that found none.
    private var current: [UInt8]?

    init(_ transaction: WriteTransaction, bucket: [UInt8]) {
        self.transaction = transaction
        self.bucket = bucket
    }

    public func first() -> (key: [UInt8], value: [UInt8])? {
        remember(position(at: nil, after: false))
    }

    public func last() -> (key: [UInt8], value: [UInt8])? {
        remember(position(before: nil, inclusive: true))
    }

    /// The first entry whose key is >= `key`.
    public func seek(_ key: [UInt8]) -> (key: [UInt8], value: [UInt8])? {
        remember(position(at: key, after: false))
    }

    /// The entry after the one the last call returned (the first one when none was).
    public func next() -> (key: [UInt8], value: [UInt8])? {
        guard let current else { return first() }
        return remember(position(at: current, after: true))
    }

    /// The entry before the one the last call returned (the last one when none was).
    public func prev() -> (key: [UInt8], value: [UInt8])? {
        guard let current else { return last() }
        return remember(position(before: current, inclusive: false))
    }

    private func remember(_ entry: (key: [UInt8], value: [UInt8])?) -> (key: [UInt8], value: [UInt8])? {
        current = entry?.key
        return entry
    }

    // MARK: Finding a place

    /// The path from the root: each node and the index taken in it.
    private typealias Path = [(node: TreeNode, index: Int)]

    /// The first entry with a key >= `key` (> with `after`; the very first with no key).
    private func position(at key: [UInt8]?, after: Bool) -> (key: [UInt8], value: [UInt8])? {
        guard let root = transaction.treeRoot(bucket) else { return nil }
        var path: Path = []
        let leaf = descend(from: root, toward: key, leftmost: true, &path)
        var index = 0
        if let key {
            index = leaf.lowerBound(key)
            if after && index < leaf.count && compareKeys(leaf.key(index), key) == 0 { index += 1 }
        }
        path.append((leaf, index))
        return entry(forward: true, &path)
    }

    /// The last entry with a key < `key` (<= with `inclusive`; the very last with no key).
    private func position(before key: [UInt8]?, inclusive: Bool) -> (key: [UInt8], value: [UInt8])? {
        guard let root = transaction.treeRoot(bucket) else { return nil }
        var path: Path = []
        let leaf = descend(from: root, toward: key, leftmost: false, &path)
        var index = leaf.count - 1
        if let key {
            index = leaf.lowerBound(key)
            if !(inclusive && index < leaf.count && compareKeys(leaf.key(index), key) == 0) { index -= 1 }
        }
        path.append((leaf, index))
        return entry(forward: false, &path)
    }

    /// Goes down from `node` to a leaf, appending each branch and the child taken to `path`:
    /// the child whose subtree holds `key`, or with no key the first (`leftmost`) or last
    /// child. Returns the leaf, which is not appended.
    private func descend(from node: TreeNode, toward key: [UInt8]?, leftmost: Bool, _ path: inout Path) -> TreeNode {
        var node = node
        while !node.isLeaf {
            let index = key.map { node.childIndex($0) } ?? (leftmost ? 0 : node.count - 1)
            path.append((node, index))
            node = node.child(index, in: transaction.database)
        }
        return node
    }

    /// The entry the path's leaf index points at, or, when it points past either end of its
    /// leaf (or the leaf is empty, as a leaf emptied by deletes is until commit), the nearest
    /// one in the direction of travel.
    private func entry(forward: Bool, _ path: inout Path) -> (key: [UInt8], value: [UInt8])? {
        while let (leaf, index) = path.last {
            if index >= 0 && index < leaf.count {
                return ([UInt8](leaf.key(index)), [UInt8](leaf.value(index)))
            }
            // Climb to the nearest branch with a sibling that way, then take that sibling's
            // outermost leaf.
            path.removeLast()
            while let (branch, at) = path.last {
                let sibling = forward ? at + 1 : at - 1
                if sibling >= 0 && sibling < branch.count {
                    path[path.count - 1].index = sibling
                    let leaf = descend(from: branch.child(sibling, in: transaction.database), toward: nil, leftmost: forward, &path)
                    path.append((leaf, forward ? 0 : leaf.count - 1))
                    break
                }
                path.removeLast()
            }
        }
        return nil
    }
}

/// A node on a write cursor's path: in memory (touched by the transaction) or a mapped page.
enum TreeNode {
    case memory(Node)
    case mapped(PageView)

    var isLeaf: Bool {
        switch self {
        case .memory(let node): node.isLeaf
        case .mapped(let view): view.isLeaf
        }
    }

    var count: Int {
        switch self {
        case .memory(let node): node.count
        case .mapped(let view): view.count
        }
    }

    func key(_ i: Int) -> UnsafeRawBufferPointer {
        switch self {
        case .memory(let node): node.key(i)
        case .mapped(let view): view.key(i)
        }
    }

    func value(_ i: Int) -> UnsafeRawBufferPointer {
        switch self {
        case .memory(let node): node.value(i)
        case .mapped(let view): view.value(i)
        }
    }

    func lowerBound(_ key: [UInt8]) -> Int {
        switch self {
        case .memory(let node): node.lowerBound(key)
        case .mapped(let view): view.lowerBound(key)
        }
    }

    func childIndex(_ key: [UInt8]) -> Int {
        switch self {
        case .memory(let node): node.childIndex(key)
        case .mapped(let view): view.childIndex(key)
        }
    }

    /// Child `i` of a branch: the transaction's copy when it has one, the mapped page otherwise.
    func child(_ i: Int, in database: Database) -> TreeNode {
        switch self {
        case .memory(let node):
            if let child = node.childNodes[i] { return .memory(child) }
            return .mapped(database.view(node.child(i)))
        case .mapped(let view):
            return .mapped(database.view(view.child(i)))
        }
    }
}

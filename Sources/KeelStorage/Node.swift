/// Bytes of a key or value in a node a write transaction holds: in the mapped page the node
/// came from, or in the transaction's `ByteArena` (written by this transaction). Both stay
/// valid for the whole transaction: the pages it read belong to the committed version, which
/// no page this transaction writes can be, and the mapping never moves.
typealias NodeBytes = UnsafeRawBufferPointer

@inline(__always)
func compareKeys(_ a: NodeBytes, _ b: [UInt8]) -> Int {
    b.withUnsafeBytes { compareKeys(a, $0) }
}

/// A node a write transaction has touched: read from its page (its entries still pointing
/// into the mapping) or new. Every node in memory is dirty and gets new pages at commit (copy
/// on write); the pages it came from are freed then.
final class Node {
    var isLeaf: Bool
    var keys: [NodeBytes]
    /// Leaf: the values and their flags.
    var values: [NodeBytes] = []
    var flags: [UInt32] = []
    /// Branch: the children's pages, and the children already brought into memory.
    var children: [PageID] = []
    var childNodes: [Node?] = []
    /// The pages this node was read from (first page and count), freed at commit.
    let origin: (page: PageID, pages: Int)?

    init(leaf: Bool) {
        isLeaf = leaf
        keys = []
        origin = nil
    }

    /// Copies a node out of its page. Each array is filled in place at its final capacity
    /// (no append per entry): this runs for every node a transaction touches.
    init(_ view: PageView, page: PageID) {
        isLeaf = view.isLeaf
        let count = view.count
        // Room for a few inserts, so that the first ones do not reallocate.
        let capacity = count + 8
        keys = Self.filled(count, capacity: capacity) { view.key($0) }
        if isLeaf {
            values = Self.filled(count, capacity: capacity) { view.value($0) }
            flags = Self.filled(count, capacity: capacity) { view.flags($0) }
        } else {
            children = Self.filled(count, capacity: count) { view.child($0) }
            childNodes = [Node?](repeating: nil, count: count)
        }
        origin = (page, 1 + view.overflow)
    }

    /// An array of `element(0..<count)` with room for `capacity` elements: built on the stack,
    /// then appended in one go. (`init(unsafeUninitializedCapacity:)` would look up generic
    /// metadata on every call; `reserveCapacity` and bulk append are specialized.)
    @inline(__always)
    private static func filled<T>(_ count: Int, capacity: Int, _ element: (Int) -> T) -> [T] {
        var array: [T] = []
        array.reserveCapacity(capacity)
        withUnsafeTemporaryAllocation(of: T.self, capacity: count) { buffer in
            for i in 0..<count { buffer.initializeElement(at: i, to: element(i)) }
            array.append(contentsOf: UnsafeBufferPointer(buffer))
        }
        return array
    }

    /// First index whose key is >= `key`.
    func lowerBound(_ key: [UInt8]) -> Int {
        var low = 0, high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if compareKeys(keys[middle], key) < 0 { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// In a branch: the child whose subtree holds `key`.
    func childIndex(_ key: [UInt8]) -> Int {
        let bound = lowerBound(key)
        if bound < keys.count && compareKeys(keys[bound], key) == 0 { return bound }
        return max(0, bound - 1)
    }

    /// Bytes element `i` takes in a page.
    func elementBytes(_ i: Int) -> Int {
        PageLayout.elementBytes + keys[i].count + (isLeaf ? values[i].count : 0)
    }

    /// Bytes the node takes encoded.
    var encodedBytes: Int {
        (0..<keys.count).reduce(PageLayout.headerBytes) { $0 + elementBytes($1) }
    }

    /// Whether the node takes fewer than `limit` bytes encoded. Stops summing at `limit`:
    /// rebalance asks this of every touched node, and most are far above it.
    func encodedBytes(below limit: Int) -> Bool {
        var total = PageLayout.headerBytes
        for i in keys.indices {
            total += elementBytes(i)
            if total >= limit { return false }
        }
        return total < limit
    }

    /// Encodes elements `range` as one node whose first page is `page`, into `destination`
    /// (which has room for `pages` whole pages; the tail is zeroed).
    static func encode(_ node: Node, _ range: Range<Int>, page: PageID, pages: Int, pageSize: Int,
                       into destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count == pages * pageSize && range.count <= Int(UInt16.max))
        let base = destination.baseAddress!
        let kind = node.isLeaf ? PageKind.leaf : PageKind.branch
        base.storeBytes(of: kind.rawValue.littleEndian, toByteOffset: 0, as: UInt16.self)
        base.storeBytes(of: UInt16(range.count).littleEndian, toByteOffset: 2, as: UInt16.self)
        base.storeBytes(of: UInt32(pages - 1).littleEndian, toByteOffset: 4, as: UInt32.self)
        base.storeBytes(of: page.rawValue.littleEndian, toByteOffset: 8, as: UInt64.self)
        var data = PageLayout.headerBytes + range.count * PageLayout.elementBytes
        for (slot, i) in range.enumerated() {
            let e = PageLayout.headerBytes + slot * PageLayout.elementBytes
            let key = node.keys[i]
            if node.isLeaf {
                base.storeBytes(of: node.flags[i].littleEndian, toByteOffset: e, as: UInt32.self)
                base.storeBytes(of: UInt32(data).littleEndian, toByteOffset: e + 4, as: UInt32.self)
                base.storeBytes(of: UInt32(key.count).littleEndian, toByteOffset: e + 8, as: UInt32.self)
                base.storeBytes(of: UInt32(node.values[i].count).littleEndian, toByteOffset: e + 12, as: UInt32.self)
            } else {
                base.storeBytes(of: UInt32(data).littleEndian, toByteOffset: e, as: UInt32.self)
                base.storeBytes(of: UInt32(key.count).littleEndian, toByteOffset: e + 4, as: UInt32.self)
                base.storeBytes(of: node.children[i].rawValue.littleEndian, toByteOffset: e + 8, as: UInt64.self)
            }
            if key.count > 0 { (base + data).copyMemory(from: key.baseAddress!, byteCount: key.count) }
            data += key.count
            if node.isLeaf {
                let value = node.values[i]
                if value.count > 0 { (base + data).copyMemory(from: value.baseAddress!, byteCount: value.count) }
                data += node.values[i].count
            }
        }
        precondition(data <= destination.count)
        // Every byte is written: the unused tail is zeroed rather than left as it was.
        (base + data).initializeMemory(as: UInt8.self, repeating: 0, count: destination.count - data)
    }

    /// Splits the elements into runs that each fit a page (a single larger element gets a run
    /// of its own), sized evenly rather than full-then-remainder; each run comes with the
    /// bytes it takes encoded. Every element's size is summed once.
    func pieces(pageSize: Int) -> [(range: Range<Int>, bytes: Int)] {
        guard !keys.isEmpty else { return [] }
        let total = encodedBytes
        guard total > pageSize, keys.count > 1 else { return [(0..<keys.count, total)] }
        let target = total / ((total + pageSize - 1) / pageSize)
        var runs: [(range: Range<Int>, bytes: Int)] = []
        var start = 0
        var size = PageLayout.headerBytes
        for i in 0..<keys.count {
            let cost = elementBytes(i)
            if i > start && (size + cost > pageSize || size >= target) {
                runs.append((start..<i, size))
                start = i
                size = PageLayout.headerBytes
            }
            size += cost
        }
        runs.append((start..<keys.count, size))
        return runs
    }
}

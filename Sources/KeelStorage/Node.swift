/// Bytes of a key or value in a node a write transaction holds: in the mapped page the node
/// came from, or in the transaction's `ByteArena` (written by this transaction). Both stay
/// valid for the whole transaction: the pages it read belong to the committed version, which
/// no page this transaction writes can be, and the mapping never moves.
typealias NodeBytes = UnsafeRawBufferPointer

@inline(__always)
func compareKeys(_ a: NodeBytes, _ b: [UInt8]) -> Int {
    b.withUnsafeBytes { compareKeys(a, $0) }
}

/// A node a write transaction has touched: read from its page or new. Every node in memory is
/// dirty and gets new pages at commit (copy on write); the pages it came from are freed then.
///
/// A one-page node read from its page starts as an image, a copy of the page edited in place
/// (`LeafImage`, `BranchImage`), which commit writes out as it is. Any other node, and one an
/// edit no longer fits (it will split) or that is merged, holds its entries in arrays, pointing
/// into the mapped page it came from, its former image, or the transaction's `ByteArena`;
/// commit encodes it.
final class Node {
    var isLeaf: Bool
    /// The leaf's page copy, while it is edited in place (the arrays are then empty).
    private(set) var image: LeafImage?
    /// The branch's page copy, while it is edited in place (`keys` and `children` are then
    /// empty; `childNodes` is not).
    private(set) var branchImage: BranchImage?
    /// Where the image's (either kind's) keys and values start and how much of it is live.
    private var imageSpace = LeafImage.Space(lower: 0, live: 0)
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

    /// Copies a node out of its page: a one-page node as an image in `arena`, anything else
    /// into arrays. Each array is filled in place at its final capacity (no append per entry):
    /// this runs for every node a transaction touches.
    init(_ view: PageView, page: PageID, arena: ByteArena) {
        isLeaf = view.isLeaf
        origin = (page, 1 + view.overflow)
        let count = view.count
        if view.overflow == 0 {
            // The header and element table first: they say where the data starts. Only the
            // data is copied after them; the free gap is zeroed instead of read from the
            // mapping (the copy runs for every node a transaction touches, and its source is
            // rarely in the CPU's cache).
            let bytes = view.bytes.count
            let source = view.bytes.baseAddress!
            let base = arena.allocate(bytes, alignment: 64)
            let tableEnd = PageLayout.headerBytes + count * PageLayout.elementBytes
            precondition(tableEnd <= bytes, "page \(page): \(count) elements do not fit")
            base.copyMemory(from: source, byteCount: tableEnd)
            if isLeaf {
                let image = LeafImage(base: base, bytes: bytes)
                self.image = image
                imageSpace = image.measure()
            } else {
                let image = BranchImage(base: base, bytes: bytes)
                branchImage = image
                imageSpace = image.measure()
                childNodes = [Node?](repeating: nil, count: count)
            }
            let lower = imageSpace.lower
            precondition(lower >= tableEnd && lower <= bytes, "page \(page): data starts at \(lower), inside its element table")
            (base + tableEnd).initializeMemory(as: UInt8.self, repeating: 0, count: lower - tableEnd)
            (base + lower).copyMemory(from: source + lower, byteCount: bytes - lower)
            keys = []
            return
        }
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
    }

    /// Turns an image into arrays (pointing into the image, which lives as long as the
    /// transaction): before a split or a merge. Nothing for a node in arrays.
    func explode() {
        if let image = branchImage {
            let view = image.view
            keys = Self.filled(view.count, capacity: view.count + 8) { view.key($0) }
            children = Self.filled(view.count, capacity: view.count + 8) { view.child($0) }
            branchImage = nil
            return
        }
        guard let image else { return }
        let view = image.view
        let count = view.count
        keys = Self.filled(count, capacity: count + 8) { view.key($0) }
        values = Self.filled(count, capacity: count + 8) { view.value($0) }
        flags = Self.filled(count, capacity: count + 8) { view.flags($0) }
        self.image = nil
    }

    /// Debug builds: the kept space of the image matches its bytes.
    func assertImageSpace() {
        guard let measured = image?.measure() ?? branchImage?.measure() else { return }
        assert(measured.live == imageSpace.live && measured.lower >= imageSpace.lower,
               "leaf image space \(imageSpace), measured \(measured)")
    }

    // MARK: Entries, in either form

    var count: Int { image?.count ?? branchImage?.count ?? keys.count }

    func key(_ i: Int) -> NodeBytes { image?.view.key(i) ?? branchImage?.view.key(i) ?? keys[i] }

    /// In a branch: child `i`'s page (as committed, or as commit wrote it).
    func child(_ i: Int) -> PageID { branchImage?.view.child(i) ?? children[i] }

    func value(_ i: Int) -> NodeBytes { image?.view.value(i) ?? values[i] }

    func flag(_ i: Int) -> UInt32 { image?.view.flags(i) ?? flags[i] }

    /// In a leaf: sets `key` to `value` (copied), inserting it where it belongs.
    func put(_ key: [UInt8], _ value: [UInt8], flags entryFlags: UInt32, arena: ByteArena) {
        var index = lowerBound(key)
        var found = index < count && compareKeys(self.key(index), key) == 0
        if let image {
            let edited = key.withUnsafeBytes { k in
                value.withUnsafeBytes { v in
                    found ? image.replace(at: index, key: k, value: v, flags: entryFlags, space: &imageSpace)
                          : image.insert(at: index, key: k, value: v, flags: entryFlags, space: &imageSpace)
                }
            }
            if edited { return }
            // It no longer fits one page: commit will split it.
            explode()
            index = lowerBound(key)
            found = index < count && compareKeys(self.key(index), key) == 0
        }
        if found {
            values[index] = arena.copy(value)
            flags[index] = entryFlags
        } else {
            keys.insert(arena.copy(key), at: index)
            values.insert(arena.copy(value), at: index)
            flags.insert(entryFlags, at: index)
        }
    }

    /// In a leaf: removes `key`; false when it is not there.
    func remove(_ key: [UInt8]) -> Bool {
        let index = lowerBound(key)
        guard index < count && compareKeys(self.key(index), key) == 0 else { return false }
        if let image {
            image.remove(at: index, space: &imageSpace)
            return true
        }
        keys.remove(at: index)
        values.remove(at: index)
        flags.remove(at: index)
        return true
    }

    /// In a branch, at commit: child `i`, written as `pieces` (none when it emptied), takes
    /// their places. The image is edited where they fit it, else the branch turns into arrays.
    func replaceChild(_ i: Int, with pieces: [(key: NodeBytes, page: PageID)]) {
        precondition(!isLeaf && childNodes[i] == nil)
        if let branchImage, !branchImage.replace(at: i, with: pieces, space: &imageSpace) { explode() }
        if branchImage == nil {
            if let first = pieces.first {
                keys[i] = first.key
                children[i] = first.page
                if pieces.count > 1 {
                    keys.insert(contentsOf: pieces.dropFirst().map(\.key), at: i + 1)
                    children.insert(contentsOf: pieces.dropFirst().map(\.page), at: i + 1)
                }
            } else {
                keys.remove(at: i)
                children.remove(at: i)
            }
        }
        if pieces.isEmpty {
            childNodes.remove(at: i)
        } else if pieces.count > 1 {
            childNodes.insert(contentsOf: repeatElement(nil, count: pieces.count - 1), at: i + 1)
        }
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
        if let image { return image.view.lowerBound(key) }
        if let branchImage { return branchImage.view.lowerBound(key) }
        var low = 0, high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if compareKeys(keys[middle], key) < 0 { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// In a branch: the child whose subtree holds `key`.
    func childIndex(_ key: [UInt8]) -> Int {
        if let branchImage { return branchImage.view.childIndex(key) }
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
        precondition(image == nil && branchImage == nil)
        return (0..<keys.count).reduce(PageLayout.headerBytes) { $0 + elementBytes($1) }
    }

    /// Whether the node takes fewer than `limit` bytes encoded. Stops summing at `limit`:
    /// rebalance asks this of every touched node, and most are far above it.
    func encodedBytes(below limit: Int) -> Bool {
        if image != nil || branchImage != nil { return imageSpace.live < limit }
        var total = PageLayout.headerBytes
        for i in keys.indices {
            total += elementBytes(i)
            if total >= limit { return false }
        }
        return total < limit
    }

    /// Encodes elements `range` (which take `bytes` encoded, as `pieces` says) as one node
    /// whose first page is `page`, into `destination` (which has room for `pages` whole pages).
    /// The keys and values are packed against the end, the gap after the element table is
    /// zeroed: the layout a `LeafImage` edits in place.
    static func encode(_ node: Node, _ range: Range<Int>, bytes: Int, page: PageID, pages: Int, pageSize: Int,
                       into destination: UnsafeMutableRawBufferPointer) {
        precondition(node.image == nil && node.branchImage == nil && destination.count == pages * pageSize && range.count <= Int(UInt16.max) && bytes <= destination.count)
        let base = destination.baseAddress!
        let kind = node.isLeaf ? PageKind.leaf : PageKind.branch
        base.storeBytes(of: kind.rawValue.littleEndian, toByteOffset: 0, as: UInt16.self)
        base.storeBytes(of: UInt16(range.count).littleEndian, toByteOffset: 2, as: UInt16.self)
        base.storeBytes(of: UInt32(pages - 1).littleEndian, toByteOffset: 4, as: UInt32.self)
        base.storeBytes(of: page.rawValue.littleEndian, toByteOffset: 8, as: UInt64.self)
        let tableEnd = PageLayout.headerBytes + range.count * PageLayout.elementBytes
        let dataStart = destination.count - (bytes - tableEnd)
        var data = dataStart
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
        precondition(data == destination.count)
        // Every byte is written: the gap is zeroed rather than left as it was.
        (base + tableEnd).initializeMemory(as: UInt8.self, repeating: 0, count: dataStart - tableEnd)
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

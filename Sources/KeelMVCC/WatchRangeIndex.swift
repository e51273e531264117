/// The ranges of many watchers, answering "which ranges hold key k" in O(log n + matches)
/// expected, with insert and remove in O(log n) expected.
///
/// An interval tree: a treap ordered by (range start, serial) whose nodes each also name the
/// node with the highest end in their subtree. A lookup skips every subtree whose highest end
/// is at or below the key, and every right subtree of a node that starts above it, so it only
/// walks the paths to the matches. Priorities are a hash of the serial, so the shape (and the
/// cost) is the same on every run and cannot be steered by the keys clients choose.
///
/// Ranges follow `WatchKeyRange.contains`: bytewise order, `[key, end)`, an end of `[0]` has no
/// upper bound; a range whose end is not above its key holds nothing. Single keys do not
/// belong here (the hub finds them by dictionary).
///
/// Nodes live in one array and name each other by index, so a rotation moves no node: the slot
/// `insert` returns stays the element's until `remove(slot:)`.
struct WatchRangeIndex<Element> {
    private struct Node {
        var key: [UInt8]
        /// nil: no upper bound (the range's end is `[0]`).
        var upper: [UInt8]?
        var serial: Int64
        var priority: UInt64
        var element: Element?
        var left = WatchRangeIndex.none
        var right = WatchRangeIndex.none
        /// The node of this subtree whose `upper` is highest.
        var highest: Int
    }

    private static var none: Int { -1 }

    private var nodes: [Node] = []
    private var freeSlots: [Int] = []
    private var root = WatchRangeIndex.none
    /// Elements held.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// Adds `element` for `range` (not a single key); `serial` must not be held already and
    /// breaks ties between equal starts. Returns its slot, stable until it is removed.
    mutating func insert(_ element: Element, range: WatchKeyRange, serial: Int64) -> Int {
        precondition(!range.isSingleKey, "a single key in the range index")
        let upper = range.end == [0] ? nil : range.end
        let node = Node(key: range.key, upper: upper, serial: serial, priority: Self.priority(serial), element: element,
                        highest: 0)
        let slot: Int
        if let reused = freeSlots.popLast() {
            slot = reused
            nodes[slot] = node
        } else {
            slot = nodes.count
            nodes.append(node)
        }
        nodes[slot].highest = slot
        root = insert(slot, into: root)
        count += 1
        return slot
    }

    /// Removes and returns the element at `slot` (as `insert` returned it).
    @discardableResult
    mutating func remove(slot: Int) -> Element {
        precondition(slot >= 0 && slot < nodes.count && nodes[slot].element != nil, "range index slot \(slot) is not held")
        root = remove(slot, from: root)
        let element = nodes[slot].element!
        // Drop the references now rather than when the slot is reused.
        nodes[slot].element = nil
        nodes[slot].key = []
        nodes[slot].upper = nil
        freeSlots.append(slot)
        count -= 1
        return element
    }

    /// Calls `body` with every element whose range holds `key`, in order of range start, then
    /// serial.
    func forEach(containing key: [UInt8], _ body: (Element) -> Void) {
        visit(root, key, body)
    }

    /// Every element, in order of range start, then serial.
    var elements: [Element] {
        var all: [Element] = []
        all.reserveCapacity(count)
        appendInOrder(root, to: &all)
        return all
    }

    // MARK: Lookup

    private func visit(_ index: Int, _ key: [UInt8], _ body: (Element) -> Void) {
        guard index != Self.none, Self.isAbove(nodes[nodes[index].highest].upper, key) else { return }
        visit(nodes[index].left, key, body)
        // This node and its right subtree start at or after this node's key.
        guard !key.lexicographicallyPrecedes(nodes[index].key) else { return }
        if Self.isAbove(nodes[index].upper, key) { body(nodes[index].element!) }
        visit(nodes[index].right, key, body)
    }

    private func appendInOrder(_ index: Int, to all: inout [Element]) {
        guard index != Self.none else { return }
        appendInOrder(nodes[index].left, to: &all)
        all.append(nodes[index].element!)
        appendInOrder(nodes[index].right, to: &all)
    }

    /// Whether an end (nil: none) lies above `key`, i.e. `key` is before the end.
    private static func isAbove(_ upper: [UInt8]?, _ key: [UInt8]) -> Bool {
        guard let upper else { return true }
        return key.lexicographicallyPrecedes(upper)
    }

    // MARK: Tree maintenance

    private func precedes(_ a: Int, _ b: Int) -> Bool {
        if nodes[a].key == nodes[b].key { return nodes[a].serial < nodes[b].serial }
        return nodes[a].key.lexicographicallyPrecedes(nodes[b].key)
    }

    /// Inserts the lone node `slot` into `subtree`; returns the subtree's new root.
    private mutating func insert(_ slot: Int, into subtree: Int) -> Int {
        guard subtree != Self.none else { return slot }
        precondition(nodes[subtree].serial != nodes[slot].serial, "serial \(nodes[slot].serial) is in the range index twice")
        if precedes(slot, subtree) {
            let left = insert(slot, into: nodes[subtree].left)
            nodes[subtree].left = left
            if nodes[left].priority > nodes[subtree].priority { return rotateRight(subtree) }
        } else {
            let right = insert(slot, into: nodes[subtree].right)
            nodes[subtree].right = right
            if nodes[right].priority > nodes[subtree].priority { return rotateLeft(subtree) }
        }
        updateHighest(subtree)
        return subtree
    }

    /// Unlinks `slot` from `subtree`; returns the subtree's new root.
    private mutating func remove(_ slot: Int, from subtree: Int) -> Int {
        precondition(subtree != Self.none, "range index slot \(slot) is not in the tree")
        if subtree == slot { return merge(nodes[slot].left, nodes[slot].right) }
        if precedes(slot, subtree) {
            nodes[subtree].left = remove(slot, from: nodes[subtree].left)
        } else {
            nodes[subtree].right = remove(slot, from: nodes[subtree].right)
        }
        updateHighest(subtree)
        return subtree
    }

    /// Joins two treaps, every node of `low` ordered before every node of `high`.
    private mutating func merge(_ low: Int, _ high: Int) -> Int {
        if low == Self.none { return high }
        if high == Self.none { return low }
        if nodes[low].priority > nodes[high].priority {
            nodes[low].right = merge(nodes[low].right, high)
            updateHighest(low)
            return low
        }
        nodes[high].left = merge(low, nodes[high].left)
        updateHighest(high)
        return high
    }

    private mutating func rotateRight(_ index: Int) -> Int {
        let left = nodes[index].left
        nodes[index].left = nodes[left].right
        nodes[left].right = index
        updateHighest(index)
        updateHighest(left)
        return left
    }

    private mutating func rotateLeft(_ index: Int) -> Int {
        let right = nodes[index].right
        nodes[index].right = nodes[right].left
        nodes[right].left = index
        updateHighest(index)
        updateHighest(right)
        return right
    }

    /// Recomputes `highest` of `index` from its own end and its children's (already correct).
    private mutating func updateHighest(_ index: Int) {
        var highest = index
        let left = nodes[index].left
        if left != Self.none, Self.endPrecedes(nodes[highest].upper, nodes[nodes[left].highest].upper) {
            highest = nodes[left].highest
        }
        let right = nodes[index].right
        if right != Self.none, Self.endPrecedes(nodes[highest].upper, nodes[nodes[right].highest].upper) {
            highest = nodes[right].highest
        }
        nodes[index].highest = highest
    }

    /// Whether end `a` is below end `b` (nil: no upper bound, above every end).
    private static func endPrecedes(_ a: [UInt8]?, _ b: [UInt8]?) -> Bool {
        guard let a else { return false }
        guard let b else { return true }
        return a.lexicographicallyPrecedes(b)
    }

    /// SplitMix64's finalizer: spreads consecutive serials over the whole range.
    private static func priority(_ serial: Int64) -> UInt64 {
        var z = UInt64(bitPattern: serial) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension WatchRangeIndex {
    /// Checks the whole structure (tests; O(n)): search order, heap order of priorities, every
    /// `highest`, free slots and `count`. Returns the tree's height.
    @discardableResult
    func checkInvariants() -> Int {
        var inOrder: [Int] = []
        let height = check(root, inOrder: &inOrder)
        precondition(inOrder.count == count, "range index holds \(inOrder.count) nodes, count says \(count)")
        precondition(nodes.count - freeSlots.count == count, "range index leaks slots")
        for (a, b) in zip(inOrder, inOrder.dropFirst()) {
            precondition(precedes(a, b), "range index out of order between slots \(a) and \(b)")
        }
        return height
    }

    private func check(_ index: Int, inOrder: inout [Int]) -> Int {
        guard index != Self.none else { return 0 }
        precondition(nodes[index].element != nil, "a free slot in the tree")
        var highest = index
        var height = 0
        let left = nodes[index].left
        let right = nodes[index].right
        if left != Self.none { height = check(left, inOrder: &inOrder) }
        inOrder.append(index)
        if right != Self.none { height = max(height, check(right, inOrder: &inOrder)) }
        for child in [left, right] where child != Self.none {
            precondition(nodes[child].priority <= nodes[index].priority, "range index heap order broken at slot \(index)")
            if Self.endPrecedes(nodes[highest].upper, nodes[nodes[child].highest].upper) { highest = nodes[child].highest }
        }
        precondition(nodes[nodes[index].highest].upper == nodes[highest].upper, "range index highest end wrong at slot \(index)")
        return height + 1
    }
}

/// A consistent, read-only view of the database as of one commit. Beginning one takes no lock;
/// it sees nothing committed after it began, however long it lives, and the pages it can
/// reach are not reused until it ends. Page bytes are handed out only inside closures
/// (`scan`); everything else returns copies. Many read transactions run at once, each used
/// by one thread at a time.
public final class ReadTransaction: @unchecked Sendable {
    public let txid: TxID
    let root: PageID
    private let database: Database
    /// The file this version lives in (a defragmentation may have replaced it since).
    private let store: Store
    private var slot: Int?
    /// The last bucket looked up: most readers ask one bucket many times.
    private var lastBucket: (name: [UInt8], root: PageID)?

    init(_ database: Database) {
        self.database = database
        let pinned = database.readers.pin()
        slot = pinned.slot
        root = pinned.root
        txid = pinned.txid
        store = database.store(generation: pinned.generation)
    }

    deinit { end() }

    /// Ends the transaction; its pages may then be reused. Idempotent.
    public func end() {
        if let slot { database.readers.unpin(slot) }
        slot = nil
    }

    private func live() {
        precondition(slot != nil, "a read transaction used after end()")
    }

    /// The root page of a bucket's tree (0 when empty), or nil when there is no such bucket.
    func bucketRoot(_ name: [UInt8]) -> PageID? {
        live()
        if let last = lastBucket, last.name == name { return last.root }
        guard let (view, index) = store.find(name, in: root), let bucketRoot = view.bucketRoot(index) else { return nil }
        lastBucket = (name, bucketRoot)
        return bucketRoot
    }

    /// A copy of the value under `key` in `bucket`.
    public func get(_ bucket: [UInt8], _ key: [UInt8]) -> [UInt8]? {
        guard let bucketRoot = bucketRoot(bucket), let (view, index) = store.find(key, in: bucketRoot) else { return nil }
        return [UInt8](view.value(index))
    }

    /// Calls `body` with the mapped bytes of the value under `key` (nil when there is none),
    /// without copying them: valid only inside `body`.
    public func withValue<Result>(_ bucket: [UInt8], _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
        guard let bucketRoot = bucketRoot(bucket), let (view, index) = store.find(key, in: bucketRoot) else { return body(nil) }
        return body(view.value(index))
    }

    public func bucketNames() -> [[UInt8]] {
        live()
        var names: [[UInt8]] = []
        let cursor = Cursor(store, root: root)
        var entry = cursor.first()
        while let current = entry {
            names.append(current.key)
            entry = cursor.next()
        }
        return names
    }

    /// Calls `body` with every key in [`start`, `end`) of `bucket` and its value, in key
    /// order, until it returns false. The bytes are mapped pages: valid only inside `body`.
    public func scan(_ bucket: [UInt8], from start: [UInt8] = [], to end: [UInt8]? = nil,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool) {
        guard let bucketRoot = bucketRoot(bucket) else { return }
        let cursor = Cursor(store, root: bucketRoot)
        var more = cursor.seekPosition(start)
        while more, let (view, index) = cursor.position {
            let key = view.key(index)
            if let end, compareKeys(end, key) <= 0 { return }
            if !body(key, view.value(index)) { return }
            more = cursor.advance()
        }
    }

    /// A cursor over `bucket`, or nil when there is no such bucket.
    public func cursor(_ bucket: [UInt8]) -> Cursor? {
        guard let bucketRoot = bucketRoot(bucket) else { return nil }
        return Cursor(store, root: bucketRoot)
    }
}

/// Walks one tree of a read transaction in key order. Returns copies of keys and values.
/// Valid while its read transaction is.
public final class Cursor: @unchecked Sendable {
    private let database: Store
    private let root: PageID
    /// The path from the root: each node and the index taken in it.
    private var stack: [(view: PageView, index: Int)] = []

    init(_ store: Store, root: PageID) {
        self.database = store
        self.root = root
    }

    var position: (PageView, Int)? {
        guard let top = stack.last, top.view.isLeaf, top.index >= 0, top.index < top.view.count else { return nil }
        return (top.view, top.index)
    }

    private var current: (key: [UInt8], value: [UInt8])? {
        position.map { ([UInt8]($0.0.key($0.1)), [UInt8]($0.0.value($0.1))) }
    }

    public func first() -> (key: [UInt8], value: [UInt8])? {
        stack.removeAll()
        guard root.rawValue != 0 else { return nil }
        descend(from: database.view(root), toFirst: true)
        return current
    }

    public func last() -> (key: [UInt8], value: [UInt8])? {
        stack.removeAll()
        guard root.rawValue != 0 else { return nil }
        descend(from: database.view(root), toFirst: false)
        return current
    }

    /// The first entry whose key is >= `key`.
    public func seek(_ key: [UInt8]) -> (key: [UInt8], value: [UInt8])? {
        seekPosition(key) ? current : nil
    }

    public func next() -> (key: [UInt8], value: [UInt8])? {
        advance() ? current : nil
    }

    public func prev() -> (key: [UInt8], value: [UInt8])? {
        retreat() ? current : nil
    }

    /// Positions at the first key >= `key`; false when there is none.
    func seekPosition(_ key: [UInt8]) -> Bool {
        stack.removeAll()
        guard root.rawValue != 0 else { return false }
        var view = database.view(root)
        while !view.isLeaf {
            let index = view.childIndex(key)
            stack.append((view, index))
            view = database.view(view.child(index))
        }
        stack.append((view, view.lowerBound(key)))
        if position != nil { return true }
        return advanceFromEnd()
    }

    /// Moves to the next entry; false at the end.
    func advance() -> Bool {
        guard !stack.isEmpty else { return false }
        stack[stack.count - 1].index += 1
        if position != nil { return true }
        return advanceFromEnd()
    }

    private func advanceFromEnd() -> Bool {
        // Climb to the nearest branch with a next child, then take that child's first entry.
        stack.removeLast()
        while let top = stack.last {
            if top.index + 1 < top.view.count {
                stack[stack.count - 1].index += 1
                descend(from: database.view(top.view.child(top.index + 1)), toFirst: true)
                return position != nil
            }
            stack.removeLast()
        }
        return false
    }

    private func retreat() -> Bool {
        guard !stack.isEmpty else { return false }
        stack[stack.count - 1].index -= 1
        if position != nil { return true }
        stack.removeLast()
        while let top = stack.last {
            if top.index > 0 {
                stack[stack.count - 1].index -= 1
                descend(from: database.view(top.view.child(top.index - 1)), toFirst: false)
                return position != nil
            }
            stack.removeLast()
        }
        return false
    }

    private func descend(from start: PageView, toFirst: Bool) {
        var view = start
        while true {
            let index = toFirst ? 0 : view.count - 1
            stack.append((view, index))
            if view.isLeaf { return }
            view = database.view(view.child(index))
        }
    }
}

/// The one write transaction open at a time. Changes live in memory (copied nodes) until
/// `commit`, which writes every touched node to free pages, makes them durable, then writes
/// the meta page and makes that durable; `rollback` drops them and leaves nothing behind.
public final class WriteTransaction: @unchecked Sendable {
    /// The txid this transaction's commit will have.
    public let txid: TxID
    let database: Database
    /// The bucket directory: bucket name → the bucket's root page.
    var directory: TreeHandle
    /// Buckets touched in this transaction, by name.
    var buckets: [[UInt8]: TreeHandle] = [:]
    var closed = false
    /// The keys, values and page copies of this transaction; its nodes point into it. The
    /// database's, reset when the transaction ends.
    var arena: ByteArena { database.writeArena }

    /// A tree's root: its page in the last committed version, and its node once touched.
    struct TreeHandle {
        var page: PageID
        var node: Node?
    }

    init(_ database: Database, txid: TxID, root: PageID) {
        self.database = database
        self.txid = txid
        self.directory = TreeHandle(page: root, node: nil)
    }

    deinit { if !closed { rollback() } }

    // MARK: Buckets

    /// Creates the bucket unless it exists.
    public func createBucket(_ name: [UInt8]) throws(StorageError) {
        try usable()
        try Self.validate(key: name, value: [])
        guard bucketRootPage(name) == nil else { return }
        put(&directory, name, Self.encodeRoot(PageID(0)), flags: PageLayout.bucketFlag)
        buckets[name] = TreeHandle(page: PageID(0), node: nil)
    }

    /// Deletes the bucket and everything in it (a missing bucket is fine).
    public func deleteBucket(_ name: [UInt8]) throws(StorageError) {
        try usable()
        guard let root = bucketRootPage(name) else { return }
        // Everything the committed tree reaches is freed, whether or not it was touched here.
        var pages = Set<UInt64>()
        var problems: [String] = []
        database.walkBucket(root, reachable: &pages, problems: &problems)
        for page in pages.sorted() { database.freelist.release(PageID(page), count: 1, by: txid) }
        buckets[name] = nil
        _ = delete(&directory, name)
    }

    /// The page a bucket's tree had when this transaction began, nil when there is none.
    private func bucketRootPage(_ name: [UInt8]) -> PageID? {
        if let handle = buckets[name] { return handle.page }
        guard let (value, flags) = lookup(directory, name), flags & PageLayout.bucketFlag != 0, value.count == 8 else { return nil }
        return PageID(UInt64(littleEndian: value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
    }

    private func handle(_ name: [UInt8]) throws(StorageError) -> TreeHandle {
        if let handle = buckets[name] { return handle }
        guard let root = bucketRootPage(name) else { throw .bucketNotFound(name) }
        let handle = TreeHandle(page: root, node: nil)
        buckets[name] = handle
        return handle
    }

    static func encodeRoot(_ page: PageID) -> [UInt8] {
        withUnsafeBytes(of: page.rawValue.littleEndian) { [UInt8]($0) }
    }

    // MARK: Keys

    public func put(_ bucket: [UInt8], _ key: [UInt8], _ value: [UInt8]) throws(StorageError) {
        try usable()
        try Self.validate(key: key, value: value)
        var tree = try handle(bucket)
        let touched = tree.node != nil
        put(&tree, key, value, flags: 0)
        // Once the root is in memory the handle no longer changes: no second lookup.
        if !touched { buckets[bucket] = tree }
    }

    /// Deletes `key` (a missing key is fine).
    public func delete(_ bucket: [UInt8], _ key: [UInt8]) throws(StorageError) {
        try usable()
        var tree = try handle(bucket)
        guard lookup(tree, key) != nil else { return }
        _ = delete(&tree, key)
        buckets[bucket] = tree
    }

    /// The value under `key`, as this transaction has left it.
    public func get(_ bucket: [UInt8], _ key: [UInt8]) -> [UInt8]? {
        guard !closed, let tree = try? handle(bucket) else { return nil }
        return lookup(tree, key)?.value
    }

    /// A cursor over `bucket` that sees this transaction's changes (see `WriteCursor`).
    public func cursor(_ bucket: [UInt8]) throws(StorageError) -> WriteCursor {
        try usable()
        _ = try handle(bucket)
        return WriteCursor(self, bucket: bucket)
    }

    /// The root of `bucket` as this transaction has left it; nil once the transaction has
    /// ended or when the bucket does not exist (any more).
    func treeRoot(_ bucket: [UInt8]) -> TreeNode? {
        guard !closed, let tree = try? handle(bucket) else { return nil }
        if let node = tree.node { return .memory(node) }
        return tree.page.rawValue == 0 ? .memory(Node(leaf: true)) : .mapped(database.view(tree.page))
    }

    private func usable() throws(StorageError) {
        if closed { throw .transactionClosed }
        if let failure = database.failure { throw failure }
    }

    static func validate(key: [UInt8], value: [UInt8]) throws(StorageError) {
        if key.isEmpty { throw .invalidKey("a key must not be empty") }
        if key.count > Database.keyBytesMax { throw .invalidKey("a key of \(key.count) bytes exceeds \(Database.keyBytesMax)") }
        if value.count > Database.valueBytesMax { throw .invalidKey("a value of \(value.count) bytes exceeds \(Database.valueBytesMax)") }
    }

    // MARK: Tree operations on nodes in memory

    private func rootNode(_ tree: inout TreeHandle) -> Node {
        if let node = tree.node { return node }
        let node = database.node(tree.page)
        tree.node = node
        return node
    }

    /// The leaf (copied into memory along the path) where `key` belongs.
    private func leaf(_ tree: inout TreeHandle, _ key: [UInt8]) -> Node {
        var node = rootNode(&tree)
        while !node.isLeaf { node = database.materializedChild(node, node.childIndex(key)) }
        return node
    }

    private func put(_ tree: inout TreeHandle, _ key: [UInt8], _ value: [UInt8], flags: UInt32) {
        leaf(&tree, key).put(key, value, flags: flags, arena: arena)
    }

    private func delete(_ tree: inout TreeHandle, _ key: [UInt8]) -> Bool {
        leaf(&tree, key).remove(key)
    }

    /// Finds `key` through nodes in memory where the path has them, mapped pages elsewhere.
    private func lookup(_ tree: TreeHandle, _ key: [UInt8]) -> (value: [UInt8], flags: UInt32)? {
        var node = tree.node
        var page = tree.page
        while true {
            if let current = node {
                if current.isLeaf {
                    let index = current.lowerBound(key)
                    guard index < current.count, compareKeys(current.key(index), key) == 0 else { return nil }
                    return ([UInt8](current.value(index)), current.flag(index))
                }
                let index = current.childIndex(key)
                node = current.childNodes[index]
                page = current.child(index)
            } else {
                guard page.rawValue != 0 else { return nil }
                guard let (view, index) = database.find(key, in: page) else { return nil }
                return ([UInt8](view.value(index)), view.flags(index))
            }
        }
    }

    // MARK: Ending

    /// Drops every change. Idempotent.
    public func rollback() {
        guard !closed else { return }
        closed = true
        database.endWrite(self, committed: false)
        dropNodes()
    }

    /// Lets go of the nodes once the transaction has ended (the bytes they point at went back
    /// to the database's arena when it ended).
    private func dropNodes() {
        buckets.removeAll()
        directory.node = nil
    }

    /// Makes the changes durable and visible to new readers.
    public func commit() throws(StorageError) {
        try usable()
        closed = true
        defer { dropNodes() }
        try database.commit(self)
    }
}

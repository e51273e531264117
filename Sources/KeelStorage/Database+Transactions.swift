#if canImport(Glibc)
import Glibc
#endif
import KeelIO

/// Sizes the storage engine reports (they feed etcd's Status dbSize / dbSizeInUse).
public struct StorageStats: Sendable, Equatable {
    public var fileBytes: Int
    /// Pages below the high-water mark.
    public var pageCount: UInt64
    public var freePages: Int
    /// Freed by recent commits, reusable once older readers end.
    public var pendingPages: Int
    /// Bytes of pages the newest version reaches (and the two meta pages).
    public var inUseBytes: Int
}

extension Database {
    /// Begins a read transaction on the newest committed version. Never blocks.
    public func beginRead() -> ReadTransaction { ReadTransaction(self) }

    /// Begins the write transaction, waiting while another one is open.
    public func beginWrite() throws(StorageError) -> WriteTransaction {
        writerGate.lock()
        while writerActive { writerGate.wait() }
        writerActive = true
        writerGate.unlock()
        if let failure {
            releaseWriter()
            throw failure
        }
        // Pages freed by commits no live reader predates become free again, and files a
        // defragmentation replaced are closed once no reader can see them.
        let oldest = readers.oldestPinned()
        freelist.reclaim(upTo: oldest ?? meta.txid)
        retiredStores.removeAll { retired in oldest.map { $0 >= retired.replacedAt } ?? true }
        freelistAtBegin = freelist
        return WriteTransaction(self, txid: TxID(meta.txid.rawValue + 1), root: meta.root)
    }

    func endWrite(_ transaction: WriteTransaction, committed: Bool) {
        if !committed, let saved = freelistAtBegin { freelist = saved }
        // Before the next writer can begin: the arena is shared by all write transactions.
        writeArena.reset()
        freelistAtBegin = nil
        releaseWriter()
    }

    private func releaseWriter() {
        let settled = currentStats()
        writerGate.withLock {
            writerActive = false
            settledStats = settled
        }
        writerGate.broadcast()
    }

    /// Writes the transaction: every node in memory to newly allocated pages (sorted and
    /// coalesced into as few writes as possible), fdatasync, then the meta page, fdatasync,
    /// then publishes the new version to readers. A failed write stops the database for
    /// writes (the file still holds the previous commit).
    func commit(_ transaction: WriteTransaction) throws(StorageError) {
        var writes = PageWrites(spare: spareWriteChunks)
        spareWriteChunks = []
        defer { spareWriteChunks = writes.surrender() }
        for name in transaction.buckets.keys.sorted(by: { compareKeys($0, $1) < 0 }) {
            guard let node = transaction.buckets[name]!.node else { continue }
            let root = spillTree(node, txid: transaction.txid, writes: &writes)
            transaction.directory.node = transaction.directory.node ?? self.node(transaction.directory.page)
            setDirectoryEntry(transaction, name, root)
        }
        var root = meta.root
        if let node = transaction.directory.node {
            root = spillTree(node, txid: transaction.txid, writes: &writes)
        }
        let next = Meta(pageSize: UInt32(Self.pageSize), txid: transaction.txid, root: root, pageCount: freelist.pageCount)
        do {
            // Growing changes nothing the current version reaches: a failure here leaves the
            // database as it was.
            try grow(toPages: next.pageCount)
        } catch {
            endWrite(transaction, committed: false)
            throw error
        }
        do {
            try writes.flush(to: &store.file, freshFrom: meta.pageCount)
            try writeMeta(next)
        } catch {
            failure = .failed("\(error)")
            endWrite(transaction, committed: false)
            throw .io(error)
        }
        meta = next
        readers.publish(root: next.root, generation: storeGeneration, txid: next.txid)
        endWrite(transaction, committed: true)
    }

    /// The node at `page` copied into memory for writing; page 0 (an empty tree) gives an
    /// empty leaf.
    func node(_ page: PageID) -> Node {
        page.rawValue == 0 ? Node(leaf: true) : Node(view(page), page: page, arena: writeArena)
    }

    /// Points the directory entry `name` at `root`, through the transaction's directory tree.
    private func setDirectoryEntry(_ transaction: WriteTransaction, _ name: [UInt8], _ root: PageID) {
        var node = transaction.directory.node!
        while !node.isLeaf {
            node = materializedChild(node, node.childIndex(name))
        }
        let index = node.lowerBound(name)
        precondition(index < node.count && compareKeys(node.key(index), name) == 0, "a touched bucket without a directory entry")
        node.put(name, WriteTransaction.encodeRoot(root), flags: node.flag(index), arena: writeArena)
    }

    /// Writes a whole tree held in memory; returns its new root page (0 when empty).
    private func spillTree(_ root: Node, txid: TxID, writes: inout PageWrites) -> PageID {
        rebalance(root, txid: txid)
        var pieces = spill(root, txid: txid, writes: &writes, isRoot: true)
        while pieces.count > 1 {
            let branch = Node(leaf: false)
            branch.keys = pieces.map(\.key)
            branch.children = pieces.map(\.page)
            branch.childNodes = [Node?](repeating: nil, count: pieces.count)
            pieces = spill(branch, txid: txid, writes: &writes, isRoot: false)
        }
        return pieces.first?.page ?? PageID(0)
    }

    /// Nodes below a quarter of a page after deletes are merged into a neighbour, children
    /// first, so that deleting keys gives pages back instead of leaving the tree full of
    /// nearly empty pages. Only nodes this transaction touched are considered.
    private func rebalance(_ node: Node, txid: TxID) {
        guard !node.isLeaf else { return }
        for child in node.childNodes { if let child { rebalance(child, txid: txid) } }
        var i = 0
        while i < node.count && node.count > 1 {
            guard let child = node.childNodes[i], child.encodedBytes(below: Self.pageSize / 4) else {
                i += 1
                continue
            }
            // Merge into the left neighbour, or the right one for the first child.
            let left = i > 0 ? i - 1 : i
            let right = left + 1
            let into = materializedChild(node, left)
            let from = materializedChild(node, right)
            node.explode()
            into.explode()
            from.explode()
            into.keys += from.keys
            if into.isLeaf {
                into.values += from.values
                into.flags += from.flags
            } else {
                into.children += from.children
                into.childNodes += from.childNodes
            }
            if let origin = from.origin { freelist.release(origin.page, count: origin.pages, by: txid) }
            node.keys.remove(at: right)
            node.children.remove(at: right)
            node.childNodes.remove(at: right)
            i = left
            if !into.encodedBytes(below: Self.pageSize / 4) { i += 1 }
        }
    }

    /// Child `index` of a branch in memory, brought into memory too if it is not yet.
    func materializedChild(_ node: Node, _ index: Int) -> Node {
        if let child = node.childNodes[index] { return child }
        let child = self.node(node.child(index))
        node.childNodes[index] = child
        return child
    }

    /// Writes `node` (children first) to new pages, splitting it where it outgrew a page;
    /// returns each piece's first key and page. Its old pages are freed by `txid`.
    private func spill(_ node: Node, txid: TxID, writes: inout PageWrites, isRoot: Bool) -> [(key: NodeBytes, page: PageID)] {
        if let origin = node.origin { freelist.release(origin.page, count: origin.pages, by: txid) }
        if !node.isLeaf {
            spillChildren(node, txid: txid, writes: &writes)
            // A root left with one child is replaced by it: the tree gets shorter.
            if isRoot && node.count == 1 { return [(node.key(0), node.child(0))] }
        }
        node.assertImageSpace()
        if let image = node.image { return writeImage(image.base, count: image.count, writes: &writes) }
        if let image = node.branchImage { return writeImage(image.base, count: image.count, writes: &writes) }
        var result: [(key: NodeBytes, page: PageID)] = []
        for (run, bytes) in node.pieces(pageSize: Self.pageSize) {
            let pages = (bytes + Self.pageSize - 1) / Self.pageSize
            let page = freelist.allocate(pages)
            let buffer = writes.reserve(page, pages: pages)
            Node.encode(node, run, bytes: bytes, page: page, pages: pages, pageSize: Self.pageSize, into: buffer)
            result.append((node.keys[run.lowerBound], page))
        }
        return result
    }

    /// A node edited in place and still one page: written out from where it is (no copy),
    /// under its new id.
    private func writeImage(_ base: UnsafeMutableRawPointer, count: Int, writes: inout PageWrites) -> [(key: NodeBytes, page: PageID)] {
        guard count > 0 else { return [] }
        let page = freelist.allocate(1)
        base.storeBytes(of: page.rawValue.littleEndian, toByteOffset: 8, as: UInt64.self)
        writes.add(page, from: base)
        return [(PageView(bytes: UnsafeRawBufferPointer(start: base, count: Self.pageSize)).key(0), page)]
    }

    /// Spills a branch's children in memory and points the branch at their new pages. In key
    /// order, so that pages are taken from the freelist (lowest first) in key order too: a
    /// scan then reads the pages a commit wrote in ascending file order.
    private func spillChildren(_ node: Node, txid: TxID, writes: inout PageWrites) {
        var i = 0
        while i < node.childNodes.count {
            guard let child = node.childNodes[i] else {
                i += 1
                continue
            }
            node.childNodes[i] = nil
            let pieces = spill(child, txid: txid, writes: &writes, isRoot: false)
            node.replaceChild(i, with: pieces)
            // Past the pieces (none when the child emptied: the next one moved to `i`).
            i += pieces.count
        }
    }

    func writeMeta(_ next: Meta) throws(IOError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.pageSize, alignment: Self.pageSize)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        next.encode(to: buffer.baseAddress!)
        try store.file.writeAndSync(UnsafeRawBufferPointer(buffer), at: Int64(next.slot.rawValue) * Int64(Self.pageSize))
    }

    // MARK: Inspection

    /// Never waits: while a write transaction is open (the key space keeps one open between
    /// its batched commits) it answers the figures as the last writer left them.
    public var stats: StorageStats {
        writerGate.withLock {
            guard writerActive else { return currentStats() }
            return settledStats ?? StorageStats(fileBytes: store.mappedBytes.load(ordering: .acquiring), pageCount: 0,
                                                freePages: 0, pendingPages: 0, inUseBytes: 0)
        }
    }

    /// The figures now; the caller holds the writer role or the gate with no writer active.
    private func currentStats() -> StorageStats {
        let inUse = Int(freelist.pageCount) - freelist.freeCount - freelist.pendingCount
        return StorageStats(fileBytes: store.mappedBytes.load(ordering: .acquiring), pageCount: freelist.pageCount,
                            freePages: freelist.freeCount, pendingPages: freelist.pendingCount,
                            inUseBytes: inUse * Self.pageSize)
    }

    /// Walks every page of the newest version and checks the tree and the freelist against
    /// each other: headers valid, keys sorted, subtrees within their separators, no page
    /// reached twice, no page both reached and free or pending, and every page below the
    /// high-water mark accounted for. Returns the problems (none when consistent). Waits
    /// for an open write transaction to end.
    public func check() -> [String] {
        writerGate.lock()
        while writerActive { writerGate.wait() }
        defer { writerGate.unlock() }
        var reachable = Set<UInt64>()
        var problems: [String] = []
        walk(root: meta.root, reachable: &reachable, problems: &problems, checkKeys: true)
        let free = Set(freelist.free)
        let pending = Set(freelist.pending.flatMap(\.pages))
        for page in reachable.intersection(free).sorted() { problems.append("page \(page) is both reachable and free") }
        for page in reachable.intersection(pending).sorted() { problems.append("page \(page) is both reachable and pending") }
        for page in free.intersection(pending).sorted() { problems.append("page \(page) is both free and pending") }
        let accounted = reachable.count + free.count + pending.count + 2
        if accounted != Int(freelist.pageCount) {
            problems.append("\(freelist.pageCount) pages in use, but \(reachable.count) reachable + \(free.count) free + \(pending.count) pending + 2 meta")
        }
        return problems
    }

    /// Ends writing: waits for an open write transaction, after which `beginWrite` throws.
    /// Every read transaction must have ended. The file is closed when the last reference
    /// to the database goes.
    public func close() {
        writerGate.lock()
        while writerActive { writerGate.wait() }
        if failure == nil { failure = .databaseClosed }
        writerGate.unlock()
        precondition(readers.oldestPinned() == nil, "close() with a read transaction still open")
    }
}

/// The pages a commit writes. Nodes are encoded straight into large chunks (no buffer per
/// node), and page images are written from where they were edited; at flush the pages are
/// sorted and every run contiguous in the file goes out as one pwritev (pages also contiguous
/// in memory share an iovec). The chunks of one commit serve the next one (see
/// `surrender`): fresh ones would be faulted in page by page on every commit.
struct PageWrites: ~Copyable {
    /// Chunks in use, the last one being filled.
    private var chunks: [UnsafeMutableRawBufferPointer] = []
    /// Ordinary chunks not used yet.
    private var spare: [UnsafeMutableRawBufferPointer]
    private var used = 0
    private var pages: [(page: PageID, start: UnsafeMutableRawPointer, bytes: Int)] = []
    static let chunkBytes = 4 << 20
    /// Ordinary chunks `surrender` hands back for reuse.
    static let keptChunksMax = 4

    init(spare: [UnsafeMutableRawBufferPointer]) {
        self.spare = spare
    }

    deinit {
        for chunk in chunks { chunk.deallocate() }
        for chunk in spare { chunk.deallocate() }
    }

    /// Ends the writes: returns up to `keptChunksMax` ordinary chunks for the next commit's
    /// `init(spare:)` and frees the rest.
    mutating func surrender() -> [UnsafeMutableRawBufferPointer] {
        var kept: [UnsafeMutableRawBufferPointer] = []
        for chunk in chunks + spare {
            if chunk.count == Self.chunkBytes && kept.count < Self.keptChunksMax { kept.append(chunk) } else { chunk.deallocate() }
        }
        chunks = []
        spare = []
        pages = []
        return kept
    }

    /// Room for `count` pages that will be written at `page`.
    mutating func reserve(_ page: PageID, pages count: Int) -> UnsafeMutableRawBufferPointer {
        let bytes = count * Database.pageSize
        if chunks.isEmpty || used + bytes > chunks[chunks.count - 1].count {
            if bytes <= Self.chunkBytes, let reused = spare.popLast() {
                chunks.append(reused)
            } else {
                chunks.append(.allocate(byteCount: max(Self.chunkBytes, bytes), alignment: Database.pageSize))
            }
            used = 0
        }
        let start = chunks[chunks.count - 1].baseAddress! + used
        used += bytes
        pages.append((page, start, bytes))
        return UnsafeMutableRawBufferPointer(start: start, count: bytes)
    }

    /// Writes the page at `page` from `start`, which stays untouched until `flush`.
    mutating func add(_ page: PageID, from start: UnsafeMutableRawPointer) {
        pages.append((page, start, Database.pageSize))
    }

    /// Writes every page, then one fdatasync. Pages at or past `freshFrom` (the committed
    /// page count: never written, so not in the page cache) are written one per call: the
    /// kernel gives a page-cache folio the size of the write that creates it, and a large
    /// folio makes every later one-page write to it, and its writeback, walk all of its
    /// blocks (ext4's write_begin and writepages iterate a folio's buffer heads).
    mutating func flush(to file: inout DurableFile, freshFrom: UInt64) throws(IOError) {
        guard !pages.isEmpty else { return }
        pages.sort { $0.page < $1.page }
        let vectors = UnsafeMutableBufferPointer<iovec>.allocate(capacity: pages.count)
        defer { vectors.deallocate() }
        var count = 0
        var runStart = 0
        for i in 0...pages.count {
            let joins = i > 0 && i < pages.count && pages[i].page.rawValue < freshFrom &&
                pages[i].page.rawValue == pages[i - 1].page.rawValue + UInt64(pages[i - 1].bytes / Database.pageSize)
            if !joins && count > 0 {
                try Syscalls.pwritevAll(file.descriptor, UnsafeMutableBufferPointer(rebasing: vectors[0..<count]),
                                        offset: Int64(pages[runStart].page.rawValue) * Int64(Database.pageSize), path: file.path)
                count = 0
                runStart = i
            }
            guard i < pages.count else { break }
            if joins, let last = vectors[count - 1].iov_base, last + vectors[count - 1].iov_len == UnsafeMutableRawPointer(pages[i].start) {
                vectors[count - 1].iov_len += pages[i].bytes
            } else {
                vectors[count] = iovec(iov_base: pages[i].start, iov_len: pages[i].bytes)
                count += 1
            }
        }
        try file.sync()
    }
}

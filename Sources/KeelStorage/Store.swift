import KeelIO
import Synchronization

/// One database file with its mapping. A database has one current store; defragmentation
/// replaces it with a new one, and the old one stays open and mapped until the last reader
/// that can see it has ended.
final class Store: @unchecked Sendable {
    let path: String
    /// Written only by the thread holding the writer role.
    var file: DurableFile
    var mapping: Mapping
    /// The mapping's first byte and how far it reaches, for readers (the mapping itself is
    /// the writer's).
    let base: UnsafeRawPointer
    let mappedBytes: Atomic<Int>

    init(path: String, file: consuming DurableFile, mapping: consuming Mapping) {
        self.path = path
        self.base = UnsafeRawPointer(mapping.base)
        self.mappedBytes = Atomic(mapping.mappedBytes)
        self.file = file
        self.mapping = mapping
    }

    /// Makes sure the file (and the mapping) hold at least `pages` pages, growing in steps of
    /// `growthBytes`; the new space is allocated and the new size made durable.
    func grow(toPages pages: UInt64, growthBytes: Int) throws(StorageError) {
        let needed = Int(pages) * Database.pageSize
        guard needed > mapping.mappedBytes else { return }
        let target = (needed + growthBytes - 1) / growthBytes * growthBytes
        guard target <= mapping.reservedBytes else {
            throw .reserveExhausted(path: path, neededBytes: target, reservedBytes: mapping.reservedBytes)
        }
        do {
            try file.preallocate(bytes: Int64(target))
            try file.syncAll()
        } catch {
            throw .io(error)
        }
        try mapping.extend(fd: file.descriptor, to: target)
        mappedBytes.store(mapping.mappedBytes, ordering: .releasing)
    }

    /// The mapped bytes of `count` pages from `page`.
    func pageBytes(_ page: PageID, count: Int = 1) -> UnsafeRawBufferPointer {
        let offset = Int(page.rawValue) * Database.pageSize
        precondition(offset + count * Database.pageSize <= mappedBytes.load(ordering: .acquiring), "page \(page) is beyond the mapped file")
        return UnsafeRawBufferPointer(start: base + offset, count: count * Database.pageSize)
    }

    /// The node stored at `page` (its first page and any overflow pages), as mapped.
    func view(_ page: PageID) -> PageView {
        let first = pageBytes(page)
        let overflow = Int(UInt32(littleEndian: first.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        return PageView(bytes: overflow == 0 ? first : pageBytes(page, count: 1 + overflow))
    }

    /// The leaf element whose key is exactly `key` in the tree at `root`, if any.
    func find(_ key: [UInt8], in root: PageID) -> (PageView, Int)? {
        guard root.rawValue != 0 else { return nil }
        var view = self.view(root)
        while !view.isLeaf {
            view = self.view(view.child(view.childIndex(key)))
        }
        let index = view.lowerBound(key)
        guard index < view.count, compareKeys(key, view.key(index)) == 0 else { return nil }
        return (view, index)
    }
}

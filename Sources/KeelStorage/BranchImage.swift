#if canImport(Glibc)
import Glibc
#endif

/// A write transaction's copy of a one-page branch, edited in place: at commit, a child that
/// went to a new page changes only its element's page id (and its key, when the child's first
/// key changed), and a child that split inserts its extra pieces' elements, instead of the
/// branch being taken apart into arrays and encoded again. Commit copies the page out as it is.
///
/// Layout: the page format of Page.swift, as in `LeafImage`: the element table grows up from
/// the header, the keys grow down from the end of the page, the gap between them is free. A
/// replaced or removed key stays behind as dead bytes until `compact`.
struct BranchImage: PageImage {
    let base: UnsafeMutableRawPointer
    let bytes: Int

    /// Scans the page for its `Space` (once, when the copy is made).
    func measure() -> LeafImage.Space {
        var space = LeafImage.Space(lower: bytes, live: tableEnd)
        for i in 0..<count {
            let e = element(i)
            space.lower = min(space.lower, u32(e))
            space.live += u32(e + 4)
        }
        return space
    }

    /// Makes element `index` point at `pieces` (what its child was written as): the first
    /// takes its place, the others are inserted after it; none removes it. False (nothing
    /// changed) when they do not fit the page even compacted.
    func replace(at index: Int, with pieces: [(key: NodeBytes, page: PageID)], space: inout LeafImage.Space) -> Bool {
        guard let first = pieces.first else {
            remove(at: index, space: &space)
            return true
        }
        let e = element(index)
        let oldKeySize = u32(e + 4)
        let keyChanged = compareKeys(view.key(index), first.key) != 0
        var data = keyChanged ? first.key.count : 0
        for piece in pieces.dropFirst() { data += piece.key.count }
        let added = pieces.count - 1
        let live = space.live - (keyChanged ? oldKeySize : 0) + data + added * PageLayout.elementBytes
        guard live <= bytes, count + added <= Int(UInt16.max) else { return false }
        if space.lower - (tableEnd + added * PageLayout.elementBytes) < data {
            if keyChanged {
                // Compacting without the old key: the new one is written below.
                setU32(e + 4, 0)
                space.live -= oldKeySize
            }
            compact(&space)
        }
        if keyChanged { write(first.key, at: e, lower: &space.lower) }
        base.storeBytes(of: first.page.rawValue.littleEndian, toByteOffset: e + 8, as: UInt64.self)
        if added > 0 {
            let next = element(index + 1)
            memmove(base + next + added * PageLayout.elementBytes, base + next, tableEnd - next)
            count += added
            for (k, piece) in pieces.dropFirst().enumerated() {
                let at = next + k * PageLayout.elementBytes
                write(piece.key, at: at, lower: &space.lower)
                base.storeBytes(of: piece.page.rawValue.littleEndian, toByteOffset: at + 8, as: UInt64.self)
            }
        }
        space.live = live
        precondition(space.lower >= tableEnd)
        return true
    }

    /// Removes element `index`; its key stays as dead data until the next compaction.
    func remove(at index: Int, space: inout LeafImage.Space) {
        let e = element(index)
        let end = tableEnd
        space.live -= PageLayout.elementBytes + u32(e + 4)
        memmove(base + e, base + e + PageLayout.elementBytes, end - e - PageLayout.elementBytes)
        count -= 1
    }

    /// Writes `key` into the gap below `lower` and points element `e` at it.
    private func write(_ key: NodeBytes, at e: Int, lower: inout Int) {
        lower -= key.count
        if key.count > 0 { (base + lower).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        setU32(e, lower)
        setU32(e + 4, key.count)
    }

    /// Packs the live keys against the end of the page (in element order) and zeroes the gap;
    /// sets `space.lower` to where they now start.
    func compact(_ space: inout LeafImage.Space) {
        packData(&space, offsetField: 0) { u32($0 + 4) }
    }
}

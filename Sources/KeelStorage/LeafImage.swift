#if canImport(Glibc)
import Glibc
#endif

/// A write transaction's copy of a one-page leaf, edited in place: a put into a leaf that has
/// room writes the key and value into the page's free gap and shifts the element table by one
/// slot, instead of taking the leaf apart into arrays and encoding it again at commit (what
/// LMDB does to its dirty pages). Commit copies the page out as it is.
///
/// Layout (the page format of Page.swift; offsets are explicit, so readers do not care where
/// the data lies): the element table grows up from the header, the keys and values grow down
/// from the end of the page, the gap between them is free. Values replaced or removed leave
/// dead bytes among the data until `compact` packs the live ones against the end again.
///
///   0      16                  16 + count × 16          lower                    pageSize
///   | head | element table  →  |       free gap         |  ← keys and values (and dead) |
struct LeafImage: PageImage {
    let base: UnsafeMutableRawPointer
    let bytes: Int

    /// Where the data starts and how much of the page is live; kept by the image's owner
    /// across edits, so that no edit has to scan the page for them.
    struct Space {
        /// The lowest offset any element's data starts at (`bytes` when there is none).
        var lower: Int
        /// Header, table and live keys and values: what the page would take compacted.
        var live: Int
    }

    /// Scans the page for its `Space` (once, when the copy is made).
    func measure() -> Space {
        var space = Space(lower: bytes, live: tableEnd)
        for i in 0..<count {
            let e = element(i)
            space.lower = min(space.lower, u32(e + 4))
            space.live += u32(e + 8) + u32(e + 12)
        }
        return space
    }

    /// Makes element `index` (the others shift up) hold `key` and `value`, when the page has
    /// room for them. False (nothing changed) when they do not fit even compacted.
    func insert(at index: Int, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: UInt32, space: inout Space) -> Bool {
        let data = key.count + value.count
        guard count < Int(UInt16.max) else { return false }
        if space.lower - tableEnd < PageLayout.elementBytes + data {
            guard space.live + PageLayout.elementBytes + data <= bytes else { return false }
            compact(&space)
        }
        let e = element(index)
        memmove(base + e + PageLayout.elementBytes, base + e, tableEnd - e)
        count += 1
        write(at: e, key: key, value: value, flags: flags, lower: &space.lower)
        space.live += PageLayout.elementBytes + data
        return true
    }

    /// Gives element `index` (whose key is `key`) a new value and flags, when the page has
    /// room; false (nothing changed) when it has not even compacted.
    func replace(at index: Int, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: UInt32, space: inout Space) -> Bool {
        let e = element(index)
        let offset = u32(e + 4), keySize = u32(e + 8), oldSize = u32(e + 12)
        precondition(keySize == key.count)
        if value.count <= oldSize {
            // The value follows its key: a new one no longer than the old fits where it was.
            if value.count > 0 { (base + offset + keySize).copyMemory(from: value.baseAddress!, byteCount: value.count) }
            setU32(e, Int(flags))
            setU32(e + 12, value.count)
            space.live += value.count - oldSize
            return true
        }
        let data = key.count + value.count
        if space.lower - tableEnd < data {
            guard space.live - keySize - oldSize + data <= bytes else { return false }
            // Compacting without the old key and value: they are written anew below.
            setU32(e + 8, 0)
            setU32(e + 12, 0)
            space.live -= keySize + oldSize
            compact(&space)
            space.live += keySize + oldSize
        }
        write(at: e, key: key, value: value, flags: flags, lower: &space.lower)
        space.live += value.count - oldSize
        return true
    }

    /// Removes element `index`; its bytes stay as dead data until the next compaction.
    func remove(at index: Int, space: inout Space) {
        let e = element(index)
        let end = tableEnd
        space.live -= PageLayout.elementBytes + u32(e + 8) + u32(e + 12)
        memmove(base + e, base + e + PageLayout.elementBytes, end - e - PageLayout.elementBytes)
        count -= 1
    }

    /// Writes `key` and `value` into the gap below `lower` and points element `e` at them.
    private func write(at e: Int, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: UInt32, lower: inout Int) {
        lower -= key.count + value.count
        precondition(lower >= tableEnd)
        if key.count > 0 { (base + lower).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        if value.count > 0 { (base + lower + key.count).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        setU32(e, Int(flags))
        setU32(e + 4, lower)
        setU32(e + 8, key.count)
        setU32(e + 12, value.count)
    }

    /// Packs the live keys and values against the end of the page (in element order) and
    /// zeroes the gap; sets `space.lower` to where they now start.
    func compact(_ space: inout Space) {
        packData(&space, offsetField: 4) { u32($0 + 8) + u32($0 + 12) }
    }
}

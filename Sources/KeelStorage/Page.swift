#if canImport(Glibc)
import Glibc
#endif

// MARK: - Branch and leaf pages
//
// Every node of a tree is stored in 1 + overflow contiguous pages; the node's bytes start with
// a 16-byte header (little-endian, as everything here):
//
//   0        2        4            8               16
//   +--------+--------+------------+---------------+------------------------+-----+------------------+
//   | kind   | count  | overflow   | page id       | element table          | gap | keys and values  |
//   | u16    | u16    | u32        | u64           | count × 16 bytes       |     | (to the end)     |
//   +--------+--------+------------+---------------+------------------------+-----+------------------+
//
//   kind: 1 = branch, 2 = leaf. overflow: how many pages after this one belong to the node
//   (a node larger than a page — a big value — spans contiguous pages). page id: the node's
//   own first page, checked when it is read.
//
// A leaf element:                            A branch element:
//   0        4        8        12       16     0        4        8                 16
//   | flags  | offset | ksize  | vsize  |      | offset | ksize  | child page id   |
//   | u32    | u32    | u32    | u32    |      | u32    | u32    | u64             |
//
//   offset: from the start of the node to the key; a leaf's value follows its key. Readers go
//   by the offsets only. Commit packs the keys and values against the end of the node's last
//   page and zeroes the gap between them and the element table; a write transaction edits a
//   one-page leaf's copy in place (LeafImage.swift), putting new keys and values into that
//   gap and leaving the bytes of replaced or removed ones behind as dead data.
//   flags bit 0: the value is a bucket (8 bytes: the bucket's root page, 0 when empty).
//   A branch's key is the first key of its child's subtree; keys are sorted bytewise.
//
// Mapped bytes are never cast to Swift structs: fields are read at these offsets.

enum PageKind: UInt16 {
    case branch = 1
    case leaf = 2
}

enum PageLayout {
    static let headerBytes = 16
    static let elementBytes = 16
    static let bucketFlag: UInt32 = 1
}

/// Bytewise comparison of two keys (shorter first on a common prefix), as memcmp orders them.
@inline(__always)
func compareKeys(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    // Keys mostly differ within their first 8 bytes: those compared as one big-endian word
    // decide most comparisons of a search without a call to memcmp.
    if a.count >= 8 && b.count >= 8 {
        let x = UInt64(bigEndian: a.loadUnaligned(as: UInt64.self))
        let y = UInt64(bigEndian: b.loadUnaligned(as: UInt64.self))
        if x != y { return x < y ? -1 : 1 }
    }
    let common = min(a.count, b.count)
    if common > 0 {
        let order = memcmp(a.baseAddress!, b.baseAddress!, common)
        if order != 0 { return Int(order) }
    }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}

@inline(__always)
func compareKeys(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Int {
    a.withUnsafeBytes { compareKeys($0, b) }
}

@inline(__always)
func compareKeys(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { x in b.withUnsafeBytes { y in compareKeys(x, y) } }
}

/// A read-only view of one node's bytes, mapped or in a buffer. Valid as long as those bytes.
struct PageView {
    let bytes: UnsafeRawBufferPointer

    @inline(__always) private func u16(_ offset: Int) -> UInt16 { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    @inline(__always) private func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    @inline(__always) private func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }

    var kindRaw: UInt16 { u16(0) }
    var kind: PageKind? { PageKind(rawValue: kindRaw) }
    var isLeaf: Bool { kindRaw == PageKind.leaf.rawValue }
    var count: Int { Int(u16(2)) }
    var overflow: Int { Int(u32(4)) }
    var pageID: PageID { PageID(u64(8)) }

    @inline(__always) private func element(_ i: Int) -> Int { PageLayout.headerBytes + i * PageLayout.elementBytes }

    func key(_ i: Int) -> UnsafeRawBufferPointer {
        let e = element(i)
        let (offset, size) = isLeaf ? (Int(u32(e + 4)), Int(u32(e + 8))) : (Int(u32(e)), Int(u32(e + 4)))
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + size])
    }

    func value(_ i: Int) -> UnsafeRawBufferPointer {
        let e = element(i)
        let start = Int(u32(e + 4)) + Int(u32(e + 8))
        return UnsafeRawBufferPointer(rebasing: bytes[start..<start + Int(u32(e + 12))])
    }

    func flags(_ i: Int) -> UInt32 { u32(element(i)) }

    /// In a bucket directory's leaf: the root page of bucket `i` (0 when it is empty), or nil
    /// when the entry is not a bucket.
    func bucketRoot(_ i: Int) -> PageID? {
        let value = self.value(i)
        guard flags(i) & PageLayout.bucketFlag != 0, value.count == 8 else { return nil }
        return PageID(UInt64(littleEndian: value.loadUnaligned(as: UInt64.self)))
    }
    func child(_ i: Int) -> PageID { PageID(u64(element(i) + 8)) }

    /// The first element whose key is >= `key` (count when none is).
    func lowerBound(_ key: [UInt8]) -> Int {
        var low = 0, high = count
        // Where an element keeps its key's offset and size depends on the kind: decided once.
        let keyField = isLeaf ? 4 : 0
        key.withUnsafeBytes { search in
            while low < high {
                let middle = (low + high) / 2
                let e = element(middle) + keyField
                let offset = Int(u32(e)), size = Int(u32(e + 4))
                let candidate = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + size])
                if compareKeys(candidate, search) < 0 { low = middle + 1 } else { high = middle }
            }
        }
        return low
    }

    /// In a branch: the child whose subtree holds `key` (the last separator <= key, or 0).
    func childIndex(_ key: [UInt8]) -> Int {
        let bound = lowerBound(key)
        if bound < count && compareKeys(key, self.key(bound)) == 0 { return bound }
        return max(0, bound - 1)
    }

    /// Checks what can be checked without the tree: kind, id, sizes within the bytes.
    func validate(expected id: PageID) -> String? {
        guard kind != nil else { return "page \(id): unknown kind \(kindRaw)" }
        guard pageID == id else { return "page \(id): header names page \(pageID)" }
        guard PageLayout.headerBytes + count * PageLayout.elementBytes <= bytes.count else {
            return "page \(id): \(count) elements do not fit"
        }
        for i in 0..<count {
            let e = element(i)
            let end = isLeaf ? Int(u32(e + 4)) + Int(u32(e + 8)) + Int(u32(e + 12)) : Int(u32(e)) + Int(u32(e + 4))
            if end > bytes.count { return "page \(id): element \(i) runs past the node" }
        }
        return nil
    }
}

/// The field access `LeafImage` and `BranchImage` share: a page copy in a write transaction's
/// buffer, read and written at the explicit little-endian offsets of Page.swift's format.
protocol PageImage {
    var base: UnsafeMutableRawPointer { get }
    var bytes: Int { get }
}

extension PageImage {
    @inline(__always) func u32(_ offset: Int) -> Int { Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
    @inline(__always) func setU32(_ offset: Int, _ value: Int) { base.storeBytes(of: UInt32(value).littleEndian, toByteOffset: offset, as: UInt32.self) }
    /// The byte offset of element `i` of the element table.
    @inline(__always) func element(_ i: Int) -> Int { PageLayout.headerBytes + i * PageLayout.elementBytes }

    /// The page's element count (header bytes 2..<4).
    var count: Int {
        get { Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self))) }
        nonmutating set { base.storeBytes(of: UInt16(newValue).littleEndian, toByteOffset: 2, as: UInt16.self) }
    }

    var view: PageView { PageView(bytes: UnsafeRawBufferPointer(start: base, count: bytes)) }

    /// Where the element table ends and the free gap begins.
    var tableEnd: Int { element(count) }

    /// Packs every element's data against the end of the page, in element order, zeroes the
    /// gap and sets `space.lower` to where the data now starts. Element `e`'s data begins at
    /// the offset stored at `e + offsetField` and is `dataBytes(e)` long.
    func packData(_ space: inout LeafImage.Space, offsetField: Int, dataBytes: (Int) -> Int) {
        withUnsafeTemporaryAllocation(byteCount: bytes, alignment: 16) { scratch in
            let target = scratch.baseAddress!
            var data = bytes - (space.live - tableEnd)
            let start = data
            for i in 0..<count {
                let e = element(i)
                let size = dataBytes(e)
                if size > 0 { (target + data).copyMemory(from: base + u32(e + offsetField), byteCount: size) }
                setU32(e + offsetField, data)
                data += size
            }
            precondition(data == bytes)
            (base + start).copyMemory(from: target + start, byteCount: bytes - start)
            (base + tableEnd).initializeMemory(as: UInt8.self, repeating: 0, count: start - tableEnd)
            space.lower = start
        }
    }
}

/// The bytes a write transaction puts, and the page copies it edits: keys and values are
/// copied here once, and the transaction's nodes point at them exactly as they point at mapped
/// pages. Nodes then hold plain buffer pointers (no reference counting per entry, no enum to
/// switch on), which is what makes touching, searching and encoding a node cheap. Memory is
/// taken in large chunks and given back all at once when the transaction ends; nothing is
/// freed one by one.
///
/// The database owns one arena for all its write transactions (one at a time): `reset()`
/// keeps ordinary chunks for the next one, so that a commit does not fault fresh memory in
/// page by page (a commit touches megabytes of page copies).
final class ByteArena {
    static let chunkBytes = 1 << 20
    /// Ordinary chunks `reset()` keeps: a commit of ~1,000 scattered puts uses about six.
    static let keptChunksMax = 16

    /// Ordinary chunks, the ones before `current` full; those after it are spare.
    private var chunks: [UnsafeMutableRawBufferPointer] = []
    private var current = -1
    /// Chunks of single large values, freed by every reset.
    private var large: [UnsafeMutableRawBufferPointer] = []
    /// The free space of the current chunk.
    private var next: UnsafeMutableRawPointer?
    private var left = 0

    init() {}

    deinit {
        for chunk in chunks { chunk.deallocate() }
        for chunk in large { chunk.deallocate() }
    }

    /// A copy of `bytes` that lives until `reset()`.
    func copy(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        bytes.withUnsafeBytes { copy($0) }
    }

    func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let count = bytes.count
        guard count > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        if count > Self.chunkBytes / 4 {
            // A large value gets a chunk of its own; the current chunk's space stays usable.
            let own = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
            large.append(own)
            own.copyMemory(from: bytes)
            return UnsafeRawBufferPointer(own)
        }
        let start = allocate(count, alignment: 1)
        start.copyMemory(from: bytes.baseAddress!, byteCount: count)
        return UnsafeRawBufferPointer(start: start, count: count)
    }

    /// `count` uninitialized bytes (at most a quarter chunk) at a multiple of `alignment` (a
    /// power of two), living until `reset()`.
    func allocate(_ count: Int, alignment: Int) -> UnsafeMutableRawPointer {
        precondition(count > 0 && count <= Self.chunkBytes / 4 && alignment > 0 && alignment & (alignment - 1) == 0)
        var pad = next.map { (alignment - Int(bitPattern: $0) & (alignment - 1)) & (alignment - 1) } ?? 0
        if pad + count > left {
            current += 1
            if current == chunks.count {
                chunks.append(.allocate(byteCount: Self.chunkBytes, alignment: 64))
            }
            next = chunks[current].baseAddress
            left = Self.chunkBytes
            pad = 0
        }
        let start = next! + pad
        next = start + count
        left -= pad + count
        return start
    }

    /// Frees every copy: pointers handed out before are dangling afterwards. Keeps up to
    /// `keptChunksMax` ordinary chunks for reuse.
    func reset() {
        for chunk in large { chunk.deallocate() }
        large.removeAll()
        while chunks.count > Self.keptChunksMax { chunks.removeLast().deallocate() }
        current = -1
        next = nil
        left = 0
    }
}

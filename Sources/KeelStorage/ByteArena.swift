/// The bytes a write transaction puts: keys and values are copied here once, and the
/// transaction's nodes point at them exactly as they point at mapped pages. Nodes then hold
/// plain buffer pointers (no reference counting per entry, no enum to switch on), which is
/// what makes touching, searching and encoding a node cheap. Memory is taken in large chunks
/// and given back all at once when the transaction ends; nothing is freed one by one.
final class ByteArena {
    static let chunkBytes = 1 << 20

    private var chunks: [UnsafeMutableRawBufferPointer] = []
    /// The free space of the newest ordinary chunk.
    private var next: UnsafeMutableRawPointer?
    private var left = 0

    init() {}

    deinit { release() }

    /// A copy of `bytes` that lives until `release()`.
    func copy(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        bytes.withUnsafeBytes { copy($0) }
    }

    func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let count = bytes.count
        guard count > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        if count > left {
            if count > Self.chunkBytes / 4 {
                // A large value gets a chunk of its own; the current chunk's space stays usable.
                let own = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
                chunks.append(own)
                own.copyMemory(from: bytes)
                return UnsafeRawBufferPointer(own)
            }
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkBytes, alignment: 16)
            chunks.append(chunk)
            next = chunk.baseAddress
            left = chunk.count
        }
        let start = next!
        start.copyMemory(from: bytes.baseAddress!, byteCount: count)
        next = start + count
        left -= count
        return UnsafeRawBufferPointer(start: start, count: count)
    }

    /// Frees every copy; pointers handed out before are dangling afterwards.
    func release() {
        for chunk in chunks { chunk.deallocate() }
        chunks.removeAll()
        next = nil
        left = 0
    }
}

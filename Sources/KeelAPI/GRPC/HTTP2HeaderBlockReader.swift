import NIOCore
import NIOHPACK

/// Receives header blocks (RFC 9113 §4.3) for Keel's server and client connections: a
/// HEADERS frame, then CONTINUATION frames of the same stream until END_HEADERS, with no other
/// frame in between, decoded with NIOHPACK. Every block is decoded, also one for a stream
/// nobody wants any more: the decoder's dynamic table must see each block, in order.
///
/// A peer sends the same few blocks over and over: keel-bench and Keel's server write fixed
/// literal blocks, and grpc-go, once its first request has filled the table, sends each
/// method's block as the same indexed references. So the reader keeps the last few blocks
/// that leave the dynamic table as it was, with what they decoded to, and hands out that
/// again for the same bytes instead of decoding them: nothing but a block's bytes and the
/// table decide what it decodes to, and any block that changes the table empties that memory.
struct HTTP2HeaderBlockReader {
    typealias ConnectionError = HTTP2Wire.ConnectionError

    /// A whole, decoded header block.
    struct Block {
        let streamID: UInt32
        let endStream: Bool
        let headers: HPACKHeaders
    }

    private var decoder: HPACKDecoder
    /// Blocks decoded since the dynamic table last changed that do not change it, newest
    /// first, each with its headers; at most `recentBlocksMax`.
    private var recentBlocks: [(bytes: [UInt8], headers: HPACKHeaders)] = []
    /// Enough for a response's headers and trailers and a client's two or three methods.
    static let recentBlocksMax = 4
    /// Larger blocks are not remembered: a call's block is a few hundred bytes at most, and a
    /// connection should not hold four copies of blocks of up to `blockBytesMax`.
    static let recentBlockBytesMax = 1_024
    /// The block still waiting for CONTINUATION frames.
    private var pending: (streamID: UInt32, endStream: Bool, bytes: ByteBuffer)?
    /// A block that grows past this across CONTINUATION frames ends the connection with
    /// ENHANCE_YOUR_CALM (a peer sending CONTINUATION frames without end).
    let blockBytesMax: Int

    init(headerListBytesMax: Int, blockBytesMax: Int) {
        decoder = HPACKDecoder(
            allocator: ByteBufferAllocator(), maxDynamicTableSize: HPACKDecoder.maxDynamicTableSize,
            maxHeaderListSize: headerListBytesMax)
        self.blockBytesMax = blockBytesMax
    }

    /// Refuses, while a block is in progress, every frame but a CONTINUATION of its stream.
    func checkNext(_ header: HTTP2Wire.FrameHeader) throws(ConnectionError) {
        guard let pending else { return }
        guard header.type == HTTP2Wire.FrameType.continuation.rawValue, header.streamID == pending.streamID else {
            throw ConnectionError(
                .protocolError,
                "frame of type \(header.type) on stream \(header.streamID) inside the header block of stream \(pending.streamID)")
        }
    }

    /// A HEADERS frame: its block when it is whole, nil when CONTINUATION frames follow.
    mutating func headers(_ header: HTTP2Wire.FrameHeader, _ payload: ByteBuffer) throws(ConnectionError) -> Block? {
        guard header.streamID != 0 else { throw ConnectionError(.protocolError, "HEADERS on stream 0") }
        let fragment = try HTTP2Wire.headerBlockFragment(header, payload)
        let endStream = header.has(HTTP2Wire.Flags.endStream)
        guard header.has(HTTP2Wire.Flags.endHeaders) else {
            pending = (header.streamID, endStream, fragment)
            return nil
        }
        return try decode(streamID: header.streamID, endStream: endStream, fragment)
    }

    /// A CONTINUATION frame: the block when this frame ends it, else nil.
    mutating func continuation(_ header: HTTP2Wire.FrameHeader, _ payload: ByteBuffer) throws(ConnectionError) -> Block? {
        guard var progress = pending, progress.streamID == header.streamID else {
            throw ConnectionError(.protocolError, "CONTINUATION on stream \(header.streamID) outside a header block")
        }
        var payload = payload
        progress.bytes.writeBuffer(&payload)
        guard progress.bytes.readableBytes <= blockBytesMax else {
            throw ConnectionError(.enhanceYourCalm, "a header block of over \(blockBytesMax) bytes")
        }
        guard header.has(HTTP2Wire.Flags.endHeaders) else {
            pending = progress
            return nil
        }
        pending = nil
        return try decode(streamID: progress.streamID, endStream: progress.endStream, progress.bytes)
    }

    private mutating func decode(streamID: UInt32, endStream: Bool, _ bytes: ByteBuffer) throws(ConnectionError) -> Block {
        if let headers = recentHeaders(bytes) {
            return Block(streamID: streamID, endStream: endStream, headers: headers)
        }
        var input = bytes
        let headers: HPACKHeaders
        do {
            headers = try decoder.decodeHeaders(from: &input)
        } catch {
            throw ConnectionError(.compressionError, "cannot decode a header block: \(error)")
        }
        if !Self.leavesTableAlone(bytes) {
            recentBlocks.removeAll(keepingCapacity: true)
        } else if bytes.readableBytes <= Self.recentBlockBytesMax {
            if recentBlocks.count == Self.recentBlocksMax { recentBlocks.removeLast() }
            recentBlocks.insert((Array(bytes.readableBytesView), headers), at: 0)
        }
        return Block(streamID: streamID, endStream: endStream, headers: headers)
    }

    /// The headers of a recent block with exactly these bytes, nil when there is none.
    private func recentHeaders(_ bytes: ByteBuffer) -> HPACKHeaders? {
        bytes.withUnsafeReadableBytes { block in
            for recent in recentBlocks where recent.bytes.count == block.count {
                if recent.bytes.withUnsafeBytes({ $0.elementsEqual(block) }) { return recent.headers }
            }
            return nil
        }
    }

    /// True when decoding `block` cannot change the dynamic table: it holds only indexed fields
    /// and literals without indexing or never indexed (RFC 7541 §6), no literal with
    /// incremental indexing and no table size update. False as well for bytes that do not
    /// parse: those are left to the decoder.
    static func leavesTableAlone(_ block: ByteBuffer) -> Bool {
        block.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let first = bytes[offset]
                if first & 0x80 != 0 {
                    // Indexed field: the index alone.
                    guard skipInteger(bytes, &offset, prefixBits: 7) else { return false }
                    continue
                }
                // 01xxxxxx adds to the table, 001xxxxx resizes it.
                guard first & 0xe0 == 0 else { return false }
                // 0000xxxx or 0001xxxx: a name index (0: a literal name follows), then the value.
                let literalName = first & 0x0f == 0
                guard skipInteger(bytes, &offset, prefixBits: 4) else { return false }
                if literalName { guard skipString(bytes, &offset) else { return false } }
                guard skipString(bytes, &offset) else { return false }
            }
            return true
        }
    }

    /// Moves past an RFC 7541 §5.1 integer; false when it runs past the end or past 28 bits.
    private static func skipInteger(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int, prefixBits: Int) -> Bool {
        readInteger(bytes, &offset, prefixBits: prefixBits) != nil
    }

    /// Moves past a string literal (RFC 7541 §5.2): its length, Huffman coded or not, then its
    /// bytes; false when it runs past the end.
    private static func skipString(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) -> Bool {
        guard let length = readInteger(bytes, &offset, prefixBits: 7), length <= bytes.count - offset else { return false }
        offset += length
        return true
    }

    /// The RFC 7541 §5.1 integer at `offset`, which moves past it; nil when it runs past the
    /// end or past 28 bits.
    private static func readInteger(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int, prefixBits: Int) -> Int? {
        guard offset < bytes.count else { return nil }
        let limit = (1 << prefixBits) - 1
        var value = Int(bytes[offset]) & limit
        offset += 1
        guard value == limit else { return value }
        var shift = 0
        while offset < bytes.count, shift <= 21 {
            let byte = Int(bytes[offset])
            offset += 1
            value += (byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}

import NIOCore
import NIOHPACK

/// Receives header blocks (RFC 9113 §4.3) for Keel's server and client connections: a
/// HEADERS frame, then CONTINUATION frames of the same stream until END_HEADERS, with no other
/// frame in between, decoded with NIOHPACK. Every block is decoded, also one for a stream
/// nobody wants any more: the decoder's dynamic table must see each block, in order.
struct HTTP2HeaderBlockReader {
    typealias ConnectionError = HTTP2Wire.ConnectionError

    /// A whole, decoded header block.
    struct Block {
        let streamID: UInt32
        let endStream: Bool
        let headers: HPACKHeaders
    }

    private var decoder: HPACKDecoder
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
        var bytes = bytes
        do {
            return Block(streamID: streamID, endStream: endStream, headers: try decoder.decodeHeaders(from: &bytes))
        } catch {
            throw ConnectionError(.compressionError, "cannot decode a header block: \(error)")
        }
    }
}

import NIOCore

/// Splits the bytes of a gRPC stream's DATA frames into messages.
///
/// Each message on the wire is a 5-byte prefix and its body:
///
///     0        1                5
///     +--------+----------------+----------------------+
///     | flags  | length (UInt32 | body (length bytes)  |
///     | bit 0: |  big-endian)   |                      |
///     | compr. |                |                      |
///     +--------+----------------+----------------------+
///
/// A message may span several DATA frames and one frame may hold several messages, so bytes are
/// appended as they come and `next()` hands out whole messages. Keel advertises no message
/// encoding (no `grpc-accept-encoding`), so a compressed message is refused with UNIMPLEMENTED;
/// a length above `messageBytesMax` is refused with RESOURCE_EXHAUSTED before its body is
/// buffered, so a peer cannot make us hold more than the limit per stream.
public struct GRPCMessageDeframer {
    public static let prefixBytes = 5

    public let messageBytesMax: Int
    private var buffer: ByteBuffer
    /// What `buffer` is between messages: holds no storage of its own.
    private static let empty = ByteBufferAllocator().buffer(capacity: 0)

    public init(messageBytesMax: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        precondition(messageBytesMax >= 0 && messageBytesMax <= Int(UInt32.max))
        self.messageBytesMax = messageBytesMax
        self.buffer = Self.empty
    }

    /// Lets go of the bytes held (the stream is gone).
    public mutating func release() {
        buffer = Self.empty
    }

    /// True when bytes of an unfinished message are held: a stream that ends now is truncated.
    public var hasPartialMessage: Bool { buffer.readableBytes > 0 }

    public mutating func append(_ bytes: ByteBuffer) {
        if buffer.readableBytes == 0 {
            // The common case (a frame that starts at a message boundary): no copy.
            buffer = bytes
        } else {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
        }
    }

    /// The next whole message's body, nil when more bytes are needed, or a thrown `GRPCStatus`
    /// for a message that must not be read (after which the stream is to be failed).
    public mutating func next() throws(GRPCStatus) -> ByteBuffer? {
        guard let flags = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self)
        else { return nil }
        if flags & 0x01 != 0 {
            throw GRPCStatus(.unimplemented, "compressed messages are not supported (no grpc-encoding is accepted)")
        }
        if Int(length) > messageBytesMax {
            throw GRPCStatus(
                .resourceExhausted, "received message larger than max (\(length) vs. \(messageBytesMax))")
        }
        guard buffer.readableBytes >= Self.prefixBytes + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: Self.prefixBytes)
        let message = buffer.readSlice(length: Int(length))!
        if buffer.readableBytes == 0 {
            // Not `clear()`: the message still shares the storage, and clearing a shared
            // buffer allocates a new storage of the same capacity (a whole frame's worth).
            buffer = Self.empty
        } else if buffer.readerIndex > 64 * 1024 {
            buffer.discardReadBytes()
        }
        return message
    }
}

/// Writes the 5-byte prefix of an uncompressed message followed by its body.
public enum GRPCMessageFramer {
    public static func frame(_ body: some Collection<UInt8>, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: GRPCMessageDeframer.prefixBytes + body.count)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(body.count))
        buffer.writeBytes(body)
        return buffer
    }
}

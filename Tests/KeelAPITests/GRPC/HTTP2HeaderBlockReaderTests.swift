@testable import KeelAPI
import NIOCore
import NIOHPACK
import Testing

/// The header block reader's memory of recent blocks: a repeated block decodes as it did, and
/// only as long as the dynamic table it may refer to is unchanged.
@Suite struct HTTP2HeaderBlockReaderTests {
    static func reader() -> HTTP2HeaderBlockReader {
        HTTP2HeaderBlockReader(headerListBytesMax: 16_384, blockBytesMax: 32_768)
    }

    /// One HEADERS frame with END_HEADERS carrying `block`, through the reader.
    static func read(_ reader: inout HTTP2HeaderBlockReader, _ block: ByteBuffer, stream: UInt32 = 1) throws -> [String] {
        let header = HTTP2Wire.FrameHeader(
            length: block.readableBytes, type: HTTP2Wire.FrameType.headers.rawValue, flags: HTTP2Wire.Flags.endHeaders,
            streamID: stream)
        let decoded = try #require(try reader.headers(header, block))
        return decoded.headers.map { "\($0.name): \($0.value)" }
    }

    static func bytes(_ values: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: values) }

    @Test func aRepeatedLiteralBlockDecodesTheSameEachTime() throws {
        var reader = Self.reader()
        var block = ByteBuffer()
        HTTP2HeaderBlock.writeIndexed(HTTP2HeaderBlock.Static.status200, into: &block)
        HTTP2HeaderBlock.writeLiteral(nameIndex: HTTP2HeaderBlock.Static.contentType, value: "application/grpc".utf8, into: &block)
        var trailers = ByteBuffer()
        HTTP2HeaderBlock.writeLiteral(name: "grpc-status".utf8, value: "0".utf8, into: &trailers)
        for stream in stride(from: UInt32(1), to: 20, by: 2) {
            #expect(try Self.read(&reader, block, stream: stream) == [":status: 200", "content-type: application/grpc"])
            #expect(try Self.read(&reader, trailers, stream: stream) == ["grpc-status: 0"])
        }
    }

    /// Index 62 is the newest entry of the dynamic table: the same byte names another field
    /// once a block has added one.
    @Test func aBlockThatChangesTheTableForgetsTheRecentOnes() throws {
        var reader = Self.reader()
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var first = ByteBuffer()
        try encoder.encode(headers: HPACKHeaders([("x-a", "1")]), to: &first)
        #expect(try Self.read(&reader, first) == ["x-a: 1"])
        let newest = Self.bytes([0x80 | 62])
        #expect(try Self.read(&reader, newest, stream: 3) == ["x-a: 1"])
        #expect(try Self.read(&reader, newest, stream: 5) == ["x-a: 1"])
        var second = ByteBuffer()
        try encoder.encode(headers: HPACKHeaders([("x-b", "2")]), to: &second)
        #expect(try Self.read(&reader, second, stream: 7) == ["x-b: 2"])
        #expect(try Self.read(&reader, newest, stream: 9) == ["x-b: 2"])
        #expect(try Self.read(&reader, Self.bytes([0x80 | 63]), stream: 11) == ["x-a: 1"])
        // A size update to 0 empties the table: the reference no longer resolves.
        #expect(throws: HTTP2Wire.ConnectionError.self) { try Self.read(&reader, Self.bytes([0x20, 0x80 | 62]), stream: 13) }
    }

    @Test func whatLeavesTheTableAloneIsTold() {
        let cases: [([UInt8], Bool)] = [
            ([0x88], true),  // indexed, ":status: 200"
            ([0x88, 0xff, 0x80, 0x01], true),  // indexed, a multi-byte index
            ([0x0f, 0x10, 0x01, 0x41], true),  // literal without indexing, name index 31, value "A"
            ([0x10, 0x01, 0x61, 0x01, 0x62], true),  // never indexed, literal name "a", value "b"
            ([0x00, 0x81, 0xff, 0x01, 0x62], true),  // Huffman-coded name bytes are only skipped
            ([0x40, 0x01, 0x61, 0x01, 0x62], false),  // literal with incremental indexing
            ([0x5f, 0x10, 0x01, 0x41], false),  // the same with a name index
            ([0x20], false),  // table size update
            ([0x88, 0x3f, 0xe1, 0x1f], false),  // a size update after a field
            ([0x00, 0x01, 0x61, 0x05, 0x62], false),  // a value longer than the block
            ([0x00, 0x01], false),  // a name cut short
            ([0xff, 0x80], false),  // an index cut short
            ([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], false),  // an index past 28 bits
        ]
        for (bytes, expected) in cases {
            #expect(HTTP2HeaderBlockReader.leavesTableAlone(Self.bytes(bytes)) == expected, "\(bytes)")
        }
    }
}

import KeelAPI
import NIOCore
import Testing

/// The pieces of gRPC's HTTP/2 mapping that need no connection: message framing, status
/// message encoding and the timeout header.
@Suite struct GRPCFramingTests {
    static func framed(_ bodies: [[UInt8]], compressed: Bool = false) -> ByteBuffer {
        var buffer = ByteBuffer()
        for body in bodies {
            buffer.writeInteger(UInt8(compressed ? 1 : 0))
            buffer.writeInteger(UInt32(body.count))
            buffer.writeBytes(body)
        }
        return buffer
    }

    static func drain(_ deframer: inout GRPCMessageDeframer) throws(GRPCStatus) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        while let message = try deframer.next() { messages.append(Array(message.readableBytesView)) }
        return messages
    }

    @Test func framerWritesFlagAndBigEndianLength() {
        let buffer = GRPCMessageFramer.frame([0xAA, 0xBB, 0xCC], allocator: ByteBufferAllocator())
        #expect(Array(buffer.readableBytesView) == [0, 0, 0, 0, 3, 0xAA, 0xBB, 0xCC])
    }

    /// Every way of cutting three messages (one empty) into two DATA frames gives them back.
    @Test func messagesSplitAcrossOrSharingFramesComeOutWhole() throws {
        let bodies: [[UInt8]] = [Array(0..<7), [], Array(repeating: 9, count: 300)]
        let wire = Self.framed(bodies)
        for cut in 0...wire.readableBytes {
            var deframer = GRPCMessageDeframer(messageBytesMax: 1024)
            var messages: [[UInt8]] = []
            deframer.append(wire.getSlice(at: 0, length: cut)!)
            messages += try Self.drain(&deframer)
            deframer.append(wire.getSlice(at: cut, length: wire.readableBytes - cut)!)
            messages += try Self.drain(&deframer)
            #expect(messages == bodies, "cut at \(cut)")
            #expect(!deframer.hasPartialMessage)
        }
    }

    @Test func byteByByteDeliveryKeepsAPartialMessageUntilItsLastByte() throws {
        let wire = Self.framed([[1, 2, 3]])
        var deframer = GRPCMessageDeframer(messageBytesMax: 16)
        for offset in 0..<wire.readableBytes - 1 {
            deframer.append(wire.getSlice(at: offset, length: 1)!)
            #expect(try deframer.next() == nil)
            #expect(deframer.hasPartialMessage)
        }
        deframer.append(wire.getSlice(at: wire.readableBytes - 1, length: 1)!)
        #expect(try Self.drain(&deframer) == [[1, 2, 3]])
    }

    @Test func compressedMessageIsUnimplemented() {
        var deframer = GRPCMessageDeframer(messageBytesMax: 16)
        deframer.append(Self.framed([[1]], compressed: true))
        #expect(throws: GRPCStatus.self) { try deframer.next() }
        do {
            _ = try deframer.next()
        } catch {
            #expect(error.code == .unimplemented)
        }
    }

    /// The limit is checked on the prefix alone: a message over it is refused before its body.
    @Test func messageOverTheLimitIsResourceExhaustedFromItsPrefix() throws {
        var atLimit = GRPCMessageDeframer(messageBytesMax: 4)
        atLimit.append(Self.framed([[1, 2, 3, 4]]))
        #expect(try Self.drain(&atLimit) == [[1, 2, 3, 4]])

        var over = GRPCMessageDeframer(messageBytesMax: 4)
        over.append(Self.framed([[1, 2, 3, 4, 5]]).getSlice(at: 0, length: 5)!)
        do {
            _ = try over.next()
            Issue.record("a 5-byte message passed a 4-byte limit")
        } catch {
            #expect(error == GRPCStatus(.resourceExhausted, "received message larger than max (5 vs. 4)"))
        }
    }

    @Test func statusMessagesArePercentEncodedAsGRPCSpecifies() {
        #expect(GRPCStatus.percentEncoded("etcdserver: key not found") == "etcdserver: key not found")
        #expect(GRPCStatus.percentEncoded("50% done\n") == "50%25 done%0A")
        #expect(GRPCStatus.percentEncoded("clé") == "cl%C3%A9")
        for message in ["", "plain", "100%", "a\tb\r\nc", "naïve ☃ 🚀", "%zz"] {
            #expect(GRPCStatus.percentDecoded(GRPCStatus.percentEncoded(message)) == message)
        }
        // A malformed escape is kept as written rather than failing the call.
        #expect(GRPCStatus.percentDecoded("bad %G1 and %4") == "bad %G1 and %4")
    }

    @Test func timeoutHeaderParsesEachUnitAndRejectsMalformedValues() {
        #expect(GRPCTimeout.parse("1H") == .hours(1))
        #expect(GRPCTimeout.parse("2M") == .minutes(2))
        #expect(GRPCTimeout.parse("3S") == .seconds(3))
        #expect(GRPCTimeout.parse("40m") == .milliseconds(40))
        #expect(GRPCTimeout.parse("500u") == .microseconds(500))
        #expect(GRPCTimeout.parse("99999999n") == .nanoseconds(99_999_999))
        #expect(GRPCTimeout.parse("99999999H") == .nanoseconds(.max))
        for bad in ["", "S", "10", "123456789S", "1s", "-1S", "1.5S", " 1S"] {
            #expect(GRPCTimeout.parse(Substring(bad)) == nil, "\(bad)")
        }
        #expect(GRPCTimeout.format(.milliseconds(40)) == "40000000n")
        #expect(GRPCTimeout.format(.seconds(5)) == "5000000u")
        #expect(GRPCTimeout.format(.hours(30_000)) == "1800000M")
        for amount: TimeAmount in [.nanoseconds(1), .milliseconds(1500), .seconds(100_000), .hours(5)] {
            #expect(GRPCTimeout.parse(Substring(GRPCTimeout.format(amount)))! >= amount)
        }
    }
}

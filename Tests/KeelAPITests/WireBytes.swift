import FoundationEssentials
import SwiftProtobuf
import Testing

/// Golden wire bytes are written as hex, one protobuf field per group, so each can be checked by
/// hand against the encoding rules: a tag byte is (field number << 3) | wire type, wire type 0 is
/// a varint and 2 is length-delimited (length varint, then the bytes).
func bytes(_ hex: String) -> [UInt8] {
    let digits = hex.split(whereSeparator: { $0 == " " || $0 == "|" || $0 == "\n" })
    return digits.map { digit in
        guard let byte = UInt8(digit, radix: 16) else { preconditionFailure("bad hex byte \(digit)") }
        return byte
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: " ")
}

/// Checks both directions: `message` encodes to exactly `golden`, and `golden` decodes to a
/// message equal to `message` (every field, unknown fields included).
func expectWire<M: Message & Equatable>(
    _ message: M, _ golden: String, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let expected = bytes(golden)
    let encoded: [UInt8] = try message.serializedBytes()
    #expect(hex(encoded) == hex(expected), sourceLocation: sourceLocation)
    let decoded = try M(serializedBytes: expected)
    #expect(decoded == message, sourceLocation: sourceLocation)
    #expect(decoded.unknownFields.data.isEmpty, sourceLocation: sourceLocation)
}

/// The UTF-8 bytes of a literal, for keys and values.
func data(_ text: String) -> Data { Data(text.utf8) }

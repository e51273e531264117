/// The outcome of a gRPC call as carried by the `grpc-status` and `grpc-message` trailers.
///
/// A failed call is thrown or handed back as a `GRPCStatus` (it is an `Error`); `.ok` ends a
/// successful call. The message is plain text here; it is percent-encoded only on the wire.
public struct GRPCStatus: Error, Hashable, Sendable, CustomStringConvertible {
    /// The status codes of the gRPC protocol (doc/statuscodes.md), with their wire numbers.
    public enum Code: Int, Hashable, Sendable, CaseIterable {
        case ok = 0
        case cancelled = 1
        case unknown = 2
        case invalidArgument = 3
        case deadlineExceeded = 4
        case notFound = 5
        case alreadyExists = 6
        case permissionDenied = 7
        case resourceExhausted = 8
        case failedPrecondition = 9
        case aborted = 10
        case outOfRange = 11
        case unimplemented = 12
        case `internal` = 13
        case unavailable = 14
        case dataLoss = 15
        case unauthenticated = 16
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public static let ok = GRPCStatus(.ok)

    public var description: String { "\(code)(\(code.rawValue)): \(message)" }

    /// Reads the trailers' `grpc-status`, `grpc-message` pair. A missing or unparsable status is
    /// UNKNOWN (the gRPC spec's rule for a response that ends without a valid status).
    init(statusField: String?, messageField: String?) {
        guard let statusField, let number = Int(statusField) else {
            self.init(.unknown, "missing or malformed grpc-status \(statusField ?? "(none)")")
            return
        }
        // Codes beyond 16 are reserved; a peer that sends one gets UNKNOWN, as the spec asks.
        self.init(Code(rawValue: number) ?? .unknown, messageField.map(GRPCStatus.percentDecoded) ?? "")
    }
}

extension GRPCStatus {
    /// Percent-encodes a status message as the gRPC HTTP/2 spec asks for `grpc-message`: bytes
    /// of the UTF-8 form outside printable ASCII (0x20...0x7E), and '%' itself, become `%XX`.
    public static func percentEncoded(_ message: String) -> String {
        var encoded = ""
        encoded.reserveCapacity(message.utf8.count)
        for byte in message.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%"
                encoded.unicodeScalars.append(Self.hexDigit(byte >> 4))
                encoded.unicodeScalars.append(Self.hexDigit(byte & 0x0F))
            }
        }
        return encoded
    }

    /// Decodes `%XX` sequences back to bytes and reads the result as UTF-8. A malformed escape
    /// is kept as written (the spec asks receivers not to fail the call over the message).
    public static func percentDecoded(_ encoded: String) -> String {
        let bytes = Array(encoded.utf8)
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    private static func hexDigit(_ nibble: UInt8) -> Unicode.Scalar {
        Unicode.Scalar(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

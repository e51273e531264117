/// Builds one log line the way etcd 3.5's zap JSON encoder does:
/// {"level":"info","ts":"2024-01-02T03:04:05.123456Z","caller":"pkg/file.swift:12","msg":"...",<fields>}
/// followed by "\n". Keys in that order; strings escaped as zap escapes them: `"` and `\` with a
/// backslash, \n \r \t, other bytes below 0x20 as \u00XX (lower-case hex), invalid UTF-8 as
/// \ufffd; everything else, non-ASCII included, is copied as UTF-8.
struct LogLineEncoder {
    private(set) var bytes: [UInt8] = []

    init(level: LogLevel, timestamp: LogTimestamp, caller: String, message: String) {
        bytes.reserveCapacity(256)
        bytes += Array(#"{"level":""#.utf8)
        bytes += Array(level.description.utf8)
        bytes += Array(#"","ts":""#.utf8)
        bytes += Array(timestamp.etcdText.utf8)
        bytes += Array(#"","caller":"#.utf8)
        appendString(caller)
        bytes += Array(#","msg":"#.utf8)
        appendString(message)
    }

    mutating func append(_ field: LogField) {
        bytes.append(UInt8(ascii: ","))
        appendString(field.key)
        bytes.append(UInt8(ascii: ":"))
        switch field.value {
        case .string(let text): appendString(text)
        case .int(let value): bytes += Array(String(value).utf8)
        case .uint(let value): bytes += Array(String(value).utf8)
        case .bool(let value): bytes += Array((value ? "true" : "false").utf8)
        case .duration(let value): appendString(GoDuration.format(nanoseconds: Self.nanoseconds(value)))
        case .strings(let texts):
            bytes.append(UInt8(ascii: "["))
            for (index, text) in texts.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                appendString(text)
            }
            bytes.append(UInt8(ascii: "]"))
        }
    }

    /// Closes the object and ends the line; the encoder's bytes are then one complete line.
    mutating func finish() {
        bytes += Array("}\n".utf8)
    }

    mutating func appendString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        // Swift strings are valid Unicode, so zap's \ufffd case cannot arise here: invalid
        // input was already repaired when the String was made.
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), byte]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), byte]
            case UInt8(ascii: "\n"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case ..<0x20:
                bytes += Array("\\u00".utf8)
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A Duration in whole nanoseconds, saturating at Int64's range as Go's Duration does.
    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return total
    }
}

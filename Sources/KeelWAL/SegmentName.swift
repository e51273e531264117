/// A segment file's name: `<sequence>-<first index>.wal`, both as 16 lowercase hex digits,
/// so that a directory listing sorts segments in log order.
struct SegmentName: Hashable, Comparable, CustomStringConvertible {
    var sequence: UInt64
    /// The index of the first entry written to the segment (or the next index, if it begins
    /// with no entry).
    var firstIndex: LogIndex

    static let suffix = ".wal"

    var fileName: String { Self.hex(sequence) + "-" + Self.hex(firstIndex.rawValue) + Self.suffix }
    var description: String { fileName }

    static func < (a: Self, b: Self) -> Bool { a.sequence < b.sequence }

    init(sequence: UInt64, firstIndex: LogIndex) {
        self.sequence = sequence
        self.firstIndex = firstIndex
    }

    /// Parses a file name; nil for anything that is not a segment.
    init?(fileName name: String) {
        let utf8 = Array(name.utf8)
        guard utf8.count == 16 + 1 + 16 + Self.suffix.utf8.count, name.hasSuffix(Self.suffix), utf8[16] == UInt8(ascii: "-"),
              let sequence = Self.parseHex(utf8[0..<16]), let first = Self.parseHex(utf8[17..<33])
        else { return nil }
        self.sequence = sequence
        self.firstIndex = LogIndex(first)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    private static func parseHex(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for byte in bytes {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }
}

#if canImport(Glibc)
import Glibc
#endif
import KeelIO
import KeelTestSupport

/// Byte-string helpers for the B+tree tests: bytewise order (memcmp, then the shorter first,
/// the order the tree keeps its keys in), comparisons that stay fast in a debug build, seeded
/// random contents, and short descriptions for failure messages (a 2 MiB value is never
/// printed whole).
enum TestBytes {
    /// -1, 0 or 1 as `a` sorts before, equal to or after `b`.
    static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let common = min(a.count, b.count)
        if common > 0 {
            let order = memcmp(a.baseAddress!, b.baseAddress!, common)
            if order != 0 { return order < 0 ? -1 : 1 }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { a in b.withUnsafeBytes { b in compare(a, b) } }
    }

    static func less(_ a: [UInt8], _ b: [UInt8]) -> Bool { compare(a, b) < 0 }

    static func equal(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
        b.withUnsafeBytes { compare(a, $0) == 0 }
    }

    static func equal(_ a: [UInt8]?, _ b: [UInt8]?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (let a?, let b?): return compare(a, b) == 0
        default: return false
        }
    }

    /// `count` bytes from `random`, eight at a time (a byte at a time is slow for 2 MiB in a
    /// debug build).
    static func random(count: Int, using random: inout SeededGenerator) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset + 8 <= count {
                raw.storeBytes(of: random.next(), toByteOffset: offset, as: UInt64.self)
                offset += 8
            }
            var word = random.next()
            while offset < count {
                raw[offset] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                offset += 1
            }
        }
        return bytes
    }

    /// Hex, cut after 48 bytes: for keys and bucket names in messages.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = "0123456789abcdef".map { $0 }
        var text = ""
        for byte in bytes.prefix(48) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return bytes.count > 48 ? "\(text)…(\(bytes.count) bytes)" : (text.isEmpty ? "(empty)" : text)
    }

    static func hex(_ bytes: UnsafeRawBufferPointer) -> String { hex(Array(bytes.prefix(64))) + (bytes.count > 64 ? "…(\(bytes.count) bytes)" : "") }

    /// A value in a message: nil, its hex when short, else its length and CRC32C.
    static func summary(_ bytes: [UInt8]?) -> String {
        guard let bytes else { return "nil" }
        if bytes.count <= 32 { return "[\(hex(bytes))]" }
        let crc = CRC32C.checksum(bytes)
        return "\(bytes.count) bytes, crc32c \(String(crc, radix: 16))"
    }

    static func summary(_ bytes: UnsafeRawBufferPointer) -> String {
        if bytes.count <= 32 { return "[\(hex(bytes))]" }
        return "\(bytes.count) bytes, crc32c \(String(CRC32C.checksum(bytes), radix: 16))"
    }
}

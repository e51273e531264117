import CCRC32C

/// CRC32C (Castagnoli), the checksum of every WAL record and B+tree meta page.
///
/// `checksum` uses SSE4.2's crc32 instruction where this CPU has it (three interleaved
/// streams) and slicing-by-8 tables otherwise; both give the same value. The value is the
/// standard one (initial ~0, final inversion): CRC32C("123456789") = 0xE3069283.
public enum CRC32C {
    public static let hardwareAvailable: Bool = keel_crc32c_hardware_available() != 0

    /// The CRC of `bytes`, continuing from `previous` (the CRC of the bytes before them).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        ~extend(~previous, bytes)
    }

    @inlinable
    public static func checksum(_ bytes: [UInt8], continuing previous: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: previous) }
    }

    @usableFromInline
    static func extend(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return state }
        return hardwareAvailable
            ? keel_crc32c_hardware(state, base, bytes.count)
            : keel_crc32c_table(state, base, bytes.count)
    }

    /// The slicing-by-8 table implementation, whatever the CPU (tests and benchmarks).
    public static func tableChecksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return previous }
        return ~keel_crc32c_table(~previous, base, bytes.count)
    }

    /// One table lookup per byte: the textbook baseline the benchmarks compare against.
    public static func bytewiseChecksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return previous }
        return ~keel_crc32c_bytewise(~previous, base, bytes.count)
    }
}

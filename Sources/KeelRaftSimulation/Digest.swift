/// 64-bit digests of entries and of the replicated state: FNV-1a over the bytes, finished with
/// a SplitMix-style avalanche. Not cryptographic; enough that two different histories collide
/// only by astronomical accident, and the same on every run and platform.
public enum Digest {
    public static let empty: UInt64 = 0xCBF2_9CE4_8422_2325

    public static func bytes<S: Sequence>(_ bytes: S, seed: UInt64 = empty) -> UInt64 where S.Element == UInt8 {
        var hash = seed
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return finish(hash)
    }

    /// Combines a running digest with one more value (order matters).
    public static func combine(_ running: UInt64, _ value: UInt64) -> UInt64 {
        finish(running ^ (value &+ 0x9E37_79B9_7F4A_7C15 &+ (running << 6) &+ (running >> 2)))
    }

    private static func finish(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The keys and values of `keel-bench storage`, all derived from key numbers 0..<count and a
/// seed, so that both engines are given exactly the same data in the same order and every
/// value read back can be checked without keeping a copy of it.
///
/// Key number n (`keyBytes` ≥ 8 bytes):
///
///     0                    keyBytes-8        keyBytes
///     +----------------------+-----------------+
///     | mix(n, i) bytes      | n, big-endian   |
///     +----------------------+-----------------+
///
/// The leading bytes scatter the keys across the key order; the trailing big-endian number
/// makes distinct numbers distinct keys. Value for key n at version v (`valueBytes` ≥ 1):
/// the first up to 8 bytes hold mix(n) + v little-endian (byte 0 is the check byte a reader
/// verifies), the rest a fixed pattern.
struct StorageKeySpace: Sendable {
    static let keyBytesRange = 8...511      // LMDB's default build refuses keys over 511 bytes
    static let valueBytesRange = 1...(1 << 20)

    let count: Int
    let keyBytes: Int
    let valueBytes: Int
    let seed: UInt64

    init(count: Int, keyBytes: Int, valueBytes: Int, seed: UInt64) {
        precondition(count >= 1 && Self.keyBytesRange.contains(keyBytes) && Self.valueBytesRange.contains(valueBytes))
        self.count = count
        self.keyBytes = keyBytes
        self.valueBytes = valueBytes
        self.seed = seed
    }

    /// The key space's part of a report's JSON settings.
    var jsonSettings: [(String, JSONValue)] {
        [
            ("keys", .integer(Int64(count))),
            ("keyBytes", .integer(Int64(keyBytes))),
            ("valueBytes", .integer(Int64(valueBytes))),
            ("seed", .unsigned(seed)),
        ]
    }

    /// A key buffer to reuse with `writeKey`.
    func makeKeyBuffer() -> [UInt8] { [UInt8](repeating: 0, count: keyBytes) }

    /// A value buffer to reuse with `writeValue`, its fixed pattern already in place.
    func makeValueBuffer() -> [UInt8] {
        (0..<valueBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    }

    /// Overwrites `key` (made by `makeKeyBuffer`) with key number `n`.
    func writeKey(_ n: Int, into key: inout [UInt8]) {
        precondition(n >= 0 && n < count && key.count == keyBytes, "key number \(n) of \(count)")
        key.withUnsafeMutableBytes { bytes in
            let prefix = keyBytes - 8
            var word: UInt64 = 0
            for i in 0..<prefix {
                if i % 8 == 0 { word = SplitMix64.mix(seed ^ (UInt64(n) &* 0x9E37_79B9) ^ (UInt64(i / 8) << 56)) }
                bytes[i] = UInt8(truncatingIfNeeded: word >> UInt64(i % 8 * 8))
            }
            bytes.storeBytes(of: UInt64(n).bigEndian, toByteOffset: prefix, as: UInt64.self)
        }
    }

    /// Overwrites the stamped head of `value` (made by `makeValueBuffer`) for key `n` at `version`.
    func writeValue(_ n: Int, version: UInt64, into value: inout [UInt8]) {
        precondition(value.count == valueBytes)
        let stamp = stampWord(n, version: version)
        value.withUnsafeMutableBytes { bytes in
            for i in 0..<min(8, valueBytes) { bytes[i] = UInt8(truncatingIfNeeded: stamp >> UInt64(i * 8)) }
        }
    }

    /// The first byte of key `n`'s value at `version`: what a get must find.
    func checkByte(_ n: Int, version: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: stampWord(n, version: version))
    }

    private func stampWord(_ n: Int, version: UInt64) -> UInt64 {
        SplitMix64.mix(UInt64(n) ^ seed) &+ version
    }

    /// Every key number once, in an order drawn from `seed` (Fisher–Yates).
    func shuffledNumbers() -> [Int] {
        var numbers = Array(0..<count)
        var random = SplitMix64(seed: seed)
        numbers.shuffle(using: &random)
        return numbers
    }
}

/// A small seeded generator (SplitMix64): every random choice of a benchmark run replays
/// from its seed, and no thread touches the global generator.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// The SplitMix64 finaliser: a bijection on 64-bit words that spreads every input bit.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform number in 0..<bound without modulo bias worth measuring (bound ≪ 2^64).
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }
}

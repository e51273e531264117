import Foundation

/// The keys a network workload touches: `size` slots, each written as its decimal number
/// padded with zeros to `keyBytes` (so keys sort as their slots do). Request `number` uses slot
/// `number mod size` in order, or a slot scattered by a mix of the number and the seed.
struct NetworkKeySpace: Sendable {
    let size: Int
    let keyBytes: Int
    let sequential: Bool
    let seed: UInt64

    init(size: Int, keyBytes: Int, sequential: Bool, seed: UInt64) {
        precondition(size >= 1 && keyBytes >= 1)
        self.size = size
        self.keyBytes = keyBytes
        self.sequential = sequential
        self.seed = seed
    }

    func slot(request number: Int) -> Int {
        guard !sequential && size > 1 else { return number % size }
        return Int(Self.mix(UInt64(number), seed: seed) % UInt64(size))
    }

    /// The key of a slot. Slots beyond what `keyBytes` digits can write keep their low digits,
    /// so a key size too small for the key space makes fewer distinct keys, as in etcd's tool.
    func key(slot: Int) -> Data {
        // Written straight into the key's bytes from the last digit back: the generator runs
        // on the same cores as the server it measures.
        var bytes = [UInt8](repeating: UInt8(ascii: "0"), count: keyBytes)
        var rest = slot
        var position = keyBytes - 1
        while rest > 0 && position >= 0 {
            bytes[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            position -= 1
        }
        return Data(bytes)
    }

    func key(request number: Int) -> Data { key(slot: slot(request: number)) }

    /// A 64-bit mix (Fibonacci hashing then a xor-shift) of a request number and the seed;
    /// also the source of txn-mixed's read-or-write draw.
    static func mix(_ number: UInt64, seed: UInt64) -> UInt64 {
        var mixed = (number &+ seed) &* 0x9E37_79B9_7F4A_7C15
        mixed ^= mixed >> 31
        mixed = mixed &* 0xBF58_476D_1CE4_E5B9
        mixed ^= mixed >> 29
        return mixed
    }
}

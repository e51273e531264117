/// The one source of randomness of a simulation run: xoshiro256** seeded through SplitMix64.
///
/// Every fault, delay, client action and each node's election timeout is drawn from a
/// generator derived from the run's seed, so a seed replays exactly. The draws are done here
/// rather than with the standard library's `random(in:using:)` so that a change of its
/// algorithm in a later toolchain cannot change what a recorded seed means.
public struct SimulationRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    public init(seed: UInt64) {
        var mix = seed
        s0 = Self.splitMix(&mix)
        s1 = Self.splitMix(&mix)
        s2 = Self.splitMix(&mix)
        s3 = Self.splitMix(&mix)
        precondition(s0 | s1 | s2 | s3 != 0, "xoshiro256** must not start from the all-zero state")
    }

    private static func splitMix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A generator for one concern (a node's timeouts, the network), so that drawing more for
    /// one concern does not shift what every other concern draws.
    public mutating func fork() -> SimulationRandom {
        SimulationRandom(seed: next())
    }

    /// Uniform in `0..<bound` (Lemire's multiply-shift with rejection). `bound` > 0.
    public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "below(0)")
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }

    /// Uniform in `range` (closed).
    public mutating func uniform(_ range: ClosedRange<Int>) -> Int {
        precondition(range.lowerBound >= 0)
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(below(span))
    }

    /// Uniform index into a collection of `count` elements. `count` > 0.
    public mutating func index(_ count: Int) -> Int {
        Int(below(UInt64(count)))
    }

    /// True with probability `ppm` parts per million.
    public mutating func chance(ppm: UInt32) -> Bool {
        below(1_000_000) < UInt64(ppm)
    }

    /// One of `choices`, the way `randomElement` would, but with this generator's draw.
    public mutating func pick<T>(_ choices: [T]) -> T {
        precondition(!choices.isEmpty, "pick from nothing")
        return choices[index(choices.count)]
    }
}

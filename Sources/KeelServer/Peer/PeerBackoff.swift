import KeelRaft

/// Reconnect delays: exponential from `initial` to `max`, each shortened by up to a quarter
/// (jitter) drawn from a seeded generator (so members that lost each other at the same moment
/// do not call back in lockstep, and a seed replays the same delays).
struct PeerBackoff {
    let initialMilliseconds: Int64
    let maxMilliseconds: Int64
    private var generator: SeededGenerator
    private(set) var failures = 0

    init(initialMilliseconds: Int64, maxMilliseconds: Int64, seed: UInt64) {
        precondition(initialMilliseconds > 0 && maxMilliseconds >= initialMilliseconds)
        self.initialMilliseconds = initialMilliseconds
        self.maxMilliseconds = maxMilliseconds
        self.generator = SeededGenerator(seed: seed)
    }

    /// The delay before the next attempt after one more failure.
    mutating func nextDelayMilliseconds() -> Int64 {
        let doublings = min(failures, 30)
        failures += 1
        let base = min(maxMilliseconds, initialMilliseconds << Int64(doublings))
        let jitter = Int64(generator.draw(below: Int(base / 4) + 1))
        return base - base / 4 + jitter
    }

    /// A connection worked: the next failure starts from `initial` again.
    mutating func reset() { failures = 0 }
}

import Synchronization

/// A latency distribution with quantiles, for one stage of the request path. Durations are
/// nanoseconds in log-linear buckets: sixteen per power of two, so a reported quantile is the
/// upper end of a bucket at most 6.25% wider than its lower end. Exact below 16 ns; anything
/// from 2^42 ns (about 73 minutes) on lands in the last bucket (the maximum stays exact).
///
/// Lock-free: `record` is one atomic add on its bucket, one on the sum and a compare-and-swap
/// loop on the maximum only when it grows, so the raft, WAL and apply threads and the event
/// loops record without contending on a lock. A `summary` read while others record may see
/// some buckets of an observation's neighbours and not others; it is a sample, not a ledger.
public final class StageHistogram: Sendable {
    static let subBucketBits = 4
    static let subBuckets = 1 << subBucketBits
    /// The largest power of two with buckets of its own.
    static let exponentMax = 41
    static let slotCount = (exponentMax - subBucketBits + 2) * subBuckets

    private let slots: [AtomicCount] = (0..<StageHistogram.slotCount).map { _ in AtomicCount() }
    private let sumNanoseconds = Atomic<UInt64>(0)
    private let maxNanoseconds = Atomic<UInt64>(0)
    /// The Prometheus histogram fed alongside, if the stage is exported at /metrics.
    private let exported: Histogram?

    init(exported: Histogram? = nil) {
        self.exported = exported
    }

    public func record(nanoseconds: UInt64) {
        slots[Self.slot(nanoseconds)].value.add(1, ordering: .relaxed)
        sumNanoseconds.add(nanoseconds, ordering: .relaxed)
        var current = maxNanoseconds.load(ordering: .relaxed)
        while nanoseconds > current {
            let (exchanged, original) = maxNanoseconds.weakCompareExchange(expected: current, desired: nanoseconds, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
        exported?.observe(Double(nanoseconds) / 1e9)
    }

    /// Records the time from `start` (a `MonotonicClock` reading) to now.
    public func record(since start: UInt64, now: UInt64) {
        record(nanoseconds: now >= start ? now - start : 0)
    }

    /// Forgets every observation (the Prometheus histogram keeps its own, as counters must).
    func reset() {
        for slot in slots { slot.value.store(0, ordering: .relaxed) }
        sumNanoseconds.store(0, ordering: .relaxed)
        maxNanoseconds.store(0, ordering: .relaxed)
    }

    /// Count, mean and quantiles of what was recorded so far.
    public var summary: StageSummary {
        let counts = slots.map { $0.value.load(ordering: .relaxed) }
        let count = counts.reduce(0, +)
        let maximum = maxNanoseconds.load(ordering: .relaxed)
        func quantile(_ q: Double) -> UInt64 {
            guard count > 0 else { return 0 }
            let rank = max(1, UInt64((q * Double(count)).rounded(.up)))
            var seen: UInt64 = 0
            for (slot, slotCount) in counts.enumerated() {
                seen += slotCount
                if seen >= rank { return min(Self.upperBound(slot: slot), maximum) }
            }
            return maximum
        }
        let sum = sumNanoseconds.load(ordering: .relaxed)
        return StageSummary(count: count, meanNanoseconds: count == 0 ? 0 : sum / count,
                            p50Nanoseconds: quantile(0.5), p90Nanoseconds: quantile(0.9), p99Nanoseconds: quantile(0.99),
                            p999Nanoseconds: quantile(0.999), maxNanoseconds: maximum)
    }

    /// The bucket of `nanoseconds`: the value itself below 16, else 16 buckets per power of two.
    static func slot(_ nanoseconds: UInt64) -> Int {
        if nanoseconds < UInt64(subBuckets) { return Int(nanoseconds) }
        let exponent = 63 - nanoseconds.leadingZeroBitCount
        if exponent > exponentMax { return slotCount - 1 }
        let sub = Int(nanoseconds >> UInt64(exponent - subBucketBits)) - subBuckets
        return (exponent - subBucketBits + 1) * subBuckets + sub
    }

    /// The largest value that lands in `slot`.
    static func upperBound(slot: Int) -> UInt64 {
        if slot < subBuckets { return UInt64(slot) }
        let exponent = slot / subBuckets + subBucketBits - 1
        let sub = UInt64(slot % subBuckets)
        return ((UInt64(subBuckets) + sub + 1) << UInt64(exponent - subBucketBits)) - 1
    }
}

/// What a `StageHistogram` holds, in nanoseconds.
public struct StageSummary: Sendable, Equatable {
    public var count: UInt64
    public var meanNanoseconds: UInt64
    public var p50Nanoseconds: UInt64
    public var p90Nanoseconds: UInt64
    public var p99Nanoseconds: UInt64
    public var p999Nanoseconds: UInt64
    public var maxNanoseconds: UInt64
}

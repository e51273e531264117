import Synchronization

/// A distribution over fixed bucket upper bounds (fsync and commit latencies). Lock-free:
/// `observe` is one atomic add on its bucket and a compare-and-swap on the sum, so the WAL
/// writer and the apply loop can record every batch without contending on a lock.
///
/// The exposition's `_count` and `+Inf` bucket are the total of the per-bucket counts read at
/// scrape time, so buckets are always cumulative and end at `_count`; `_sum` may lag or lead
/// them by the observations racing with the scrape.
public final class Histogram: MetricSample {
    /// Upper bounds, strictly increasing, without +Inf.
    public let bounds: [Double]
    /// Non-cumulative counts: slot i counts observations in (bounds[i-1], bounds[i]]; the last
    /// slot counts those above every bound.
    private let slots: [AtomicCount]
    private let sumBits = Atomic<UInt64>(0)

    init(bounds: [Double]) {
        precondition(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 }, "bucket bounds must increase: \(bounds)")
        precondition(bounds.allSatisfy(\.isFinite), "bucket bounds must be finite (+Inf is implied): \(bounds)")
        self.bounds = bounds
        self.slots = (0...bounds.count).map { _ in AtomicCount() }
    }

    /// Records one observation (seconds for durations, as Prometheus names them).
    public func observe(_ value: Double) {
        // A linear scan: etcd's histograms have about 14 bounds and most samples land early.
        var index = 0
        while index < bounds.count && value > bounds[index] { index += 1 }
        slots[index].value.add(1, ordering: .relaxed)
        var current = sumBits.load(ordering: .relaxed)
        while true {
            let next = (Double(bitPattern: current) + value).bitPattern
            let (exchanged, original) = sumBits.weakCompareExchange(expected: current, desired: next, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// The number of observations so far.
    public var count: UInt64 { slots.reduce(0) { $0 + $1.value.load(ordering: .relaxed) } }

    /// The sum of the observations so far.
    public var sum: Double { Double(bitPattern: sumBits.load(ordering: .relaxed)) }

    func writeSamples(name: String, labels: String, to text: inout String) {
        let prefix = labels.isEmpty ? "" : labels + ","
        var cumulative: UInt64 = 0
        for (index, bound) in bounds.enumerated() {
            cumulative += slots[index].value.load(ordering: .relaxed)
            writeSampleLine(name + "_bucket", prefix + "le=\"\(PrometheusText.format(bound))\"", Double(cumulative), to: &text)
        }
        cumulative += slots[bounds.count].value.load(ordering: .relaxed)
        writeSampleLine(name + "_bucket", prefix + "le=\"+Inf\"", Double(cumulative), to: &text)
        writeSampleLine(name + "_sum", labels, sum, to: &text)
        writeSampleLine(name + "_count", labels, Double(cumulative), to: &text)
    }

    /// `count` bounds starting at `start`, each `factor` times the previous one, as Prometheus's
    /// `ExponentialBuckets` (etcd's disk histograms use 0.001 s × 2^0...13).
    public static func exponentialBounds(start: Double, factor: Double, count: Int) -> [Double] {
        precondition(start > 0 && factor > 1 && count >= 1, "bad exponential buckets \(start) \(factor) \(count)")
        var bounds: [Double] = []
        var bound = start
        for _ in 0..<count {
            bounds.append(bound)
            bound *= factor
        }
        return bounds
    }
}

/// A histogram with labels: one `Histogram` per combination of label values, all with the
/// family's bounds.
public struct HistogramVec: Sendable {
    let family: MetricFamily<Histogram>

    public func labels(_ values: String...) -> Histogram { family.child(values) }
    public func labels(_ values: [String]) -> Histogram { family.child(values) }
}

/// One atomic word in its own object: `Atomic` cannot be an element of an Array.
final class AtomicCount: Sendable {
    let value = Atomic<UInt64>(0)
}

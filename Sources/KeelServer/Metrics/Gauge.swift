import Synchronization

/// A value that goes up and down (leader present, proposals pending). Lock-free: the value is
/// a `Double` kept as its bit pattern in one atomic word.
public final class Gauge: MetricSample {
    private let bits = Atomic<UInt64>(0)  // Double(0).bitPattern == 0

    init() {}

    public func set(_ value: Double) {
        bits.store(value.bitPattern, ordering: .relaxed)
    }

    public func set(_ value: Int) {
        set(Double(value))
    }

    /// Adds `amount` (negative to subtract) with a compare-and-swap loop, so concurrent adds
    /// are never lost.
    public func add(_ amount: Double) {
        var current = bits.load(ordering: .relaxed)
        while true {
            let next = (Double(bitPattern: current) + amount).bitPattern
            let (exchanged, original) = bits.weakCompareExchange(
                expected: current, desired: next, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    public var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }

    func writeSamples(name: String, labels: String, to text: inout String) {
        writeSampleLine(name, labels, value, to: &text)
    }
}

/// A gauge with labels: one `Gauge` per combination of label values.
public struct GaugeVec: Sendable {
    let family: MetricFamily<Gauge>

    /// The gauge for these label values, in the order of the family's label names.
    public func labels(_ values: String...) -> Gauge { family.child(values) }
    public func labels(_ values: [String]) -> Gauge { family.child(values) }

    /// Drops the child for these label values from the exposition.
    public func remove(_ values: String...) { family.remove(values) }
}

/// A gauge or counter whose value is read at scrape time (database size, open file
/// descriptors, CPU time). Until a source is bound it reads 0, as etcd's function gauges do
/// before their store starts.
public final class ScrapedValue: MetricSample {
    private let source = Mutex<(@Sendable () -> Double)?>(nil)

    init() {}

    /// Sets the function called on every scrape (on the scraping thread: it must be cheap and
    /// must not block). A later call replaces an earlier one.
    public func bind(_ read: @escaping @Sendable () -> Double) {
        source.withLock { $0 = read }
    }

    public var value: Double { source.withLock { $0 }?() ?? 0 }

    func writeSamples(name: String, labels: String, to text: inout String) {
        writeSampleLine(name, labels, value, to: &text)
    }
}

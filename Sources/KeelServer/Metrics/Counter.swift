import Synchronization

/// A count that only goes up (requests seen, proposals failed). Lock-free: `add` is one
/// relaxed atomic add, safe from any thread.
public final class Counter: MetricSample {
    private let count = Atomic<UInt64>(0)

    init() {}

    public func increment() {
        count.add(1, ordering: .relaxed)
    }

    public func add(_ amount: UInt64) {
        count.add(amount, ordering: .relaxed)
    }

    public var value: UInt64 { count.load(ordering: .relaxed) }

    func writeSamples(name: String, labels: String, to text: inout String) {
        writeSampleLine(name, labels, Double(value), to: &text)
    }
}

/// A counter with labels: one `Counter` per combination of label values.
public struct CounterVec: Sendable {
    let family: MetricFamily<Counter>

    /// The counter for these label values, in the order of the family's label names. Takes a
    /// lock: look it up once and keep it on hot paths.
    public func labels(_ values: String...) -> Counter { family.child(values) }
    public func labels(_ values: [String]) -> Counter { family.child(values) }
}

import Synchronization

/// The node's metrics, written out in Prometheus's text exposition format 0.0.4 for `/metrics`.
///
/// Registering declares a family (name, help, type, label names) and returns the handle to
/// record into; recording never takes the registry's lock (see `Counter`, `Gauge`,
/// `Histogram`). A name may be registered once: a second registration is a programming error.
/// The exposition lists families sorted by name and each family's children sorted by label
/// values, as client_golang does, so two scrapes of an idle node are identical.
public final class MetricsRegistry: Sendable {
    /// The `Content-Type` of `exposition()`.
    public static let contentType = PrometheusText.contentType

    private let families = Mutex<[String: any AnyMetricFamily]>([:])

    public init() {}

    public func counter(_ name: String, help: String) -> Counter {
        counter(name, help: help, labelNames: []).labels([])
    }

    public func counter(_ name: String, help: String, labelNames: [String]) -> CounterVec {
        CounterVec(family: register(MetricFamily(name: name, help: help, type: .counter, labelNames: labelNames) { Counter() }))
    }

    public func gauge(_ name: String, help: String) -> Gauge {
        gauge(name, help: help, labelNames: []).labels([])
    }

    public func gauge(_ name: String, help: String, labelNames: [String]) -> GaugeVec {
        GaugeVec(family: register(MetricFamily(name: name, help: help, type: .gauge, labelNames: labelNames) { Gauge() }))
    }

    /// A gauge computed at scrape time by the function bound to it (0 until one is).
    public func gaugeFunction(_ name: String, help: String, read: (@Sendable () -> Double)? = nil) -> ScrapedValue {
        let family = register(MetricFamily(name: name, help: help, type: .gauge, labelNames: []) { ScrapedValue() })
        let gauge = family.child([])
        if let read { gauge.bind(read) }
        return gauge
    }

    /// A counter computed at scrape time (for totals another component already keeps, such as
    /// the process's CPU time); `read` must never go down.
    public func counterFunction(_ name: String, help: String, read: @escaping @Sendable () -> Double) -> ScrapedValue {
        let family = register(MetricFamily(name: name, help: help, type: .counter, labelNames: []) { ScrapedValue() })
        let counter = family.child([])
        counter.bind(read)
        return counter
    }

    /// `buckets`: the finite upper bounds, strictly increasing (+Inf is added).
    public func histogram(_ name: String, help: String, buckets: [Double]) -> Histogram {
        histogram(name, help: help, buckets: buckets, labelNames: []).labels([])
    }

    public func histogram(_ name: String, help: String, buckets: [Double], labelNames: [String]) -> HistogramVec {
        _ = Histogram(bounds: buckets)  // checks the bounds now rather than on first use
        return HistogramVec(
            family: register(MetricFamily(name: name, help: help, type: .histogram, labelNames: labelNames) {
                Histogram(bounds: buckets)
            }))
    }

    /// The whole registry in text format 0.0.4. Function gauges are read now, on the calling
    /// thread.
    public func exposition() -> String {
        let all = families.withLock { $0.values.sorted { $0.name < $1.name } }
        var text = ""
        text.reserveCapacity(all.count * 256)
        for family in all { family.write(to: &text) }
        return text
    }

    private func register<Child>(_ family: MetricFamily<Child>) -> MetricFamily<Child> {
        families.withLock { families in
            precondition(families[family.name] == nil, "metric \(family.name) registered twice")
            families[family.name] = family
        }
        return family
    }
}

import Synchronization

/// One child of a metric family: the value(s) behind one combination of label values.
protocol MetricSample: AnyObject, Sendable {
    /// Appends this child's sample lines; `labels` is its rendered `name="value"` pairs ("" if none).
    func writeSamples(name: String, labels: String, to text: inout String)
}

/// The kinds of the exposition format's `# TYPE` line that Keel uses.
enum MetricType: String, Sendable {
    case counter, gauge, histogram
}

/// A family as the registry sees it: its header and a way to write all of its samples.
protocol AnyMetricFamily: Sendable {
    var name: String { get }
    func write(to text: inout String)
}

/// A named metric with fixed label names and one child per combination of label values.
///
/// Looking a child up takes a lock; recording into a child does not. Hot paths look their
/// children up once and keep them.
final class MetricFamily<Child: MetricSample>: AnyMetricFamily {
    let name: String
    let help: String
    let type: MetricType
    let labelNames: [String]
    private let makeChild: @Sendable () -> Child
    private let children = Mutex<[[String]: Child]>([:])

    init(name: String, help: String, type: MetricType, labelNames: [String], makeChild: @escaping @Sendable () -> Child) {
        precondition(PrometheusText.isValidName(name), "invalid metric name \(name)")
        for label in labelNames {
            precondition(
                PrometheusText.isValidName(label) && !label.contains(":") && !label.hasPrefix("__") && label != "le",
                "invalid label name \(label) for \(name)")
        }
        precondition(Set(labelNames).count == labelNames.count, "duplicate label names for \(name)")
        self.name = name
        self.help = help
        self.type = type
        self.labelNames = labelNames
        self.makeChild = makeChild
    }

    /// The child for these label values, created (at zero) on first use.
    func child(_ values: [String]) -> Child {
        precondition(values.count == labelNames.count, "\(name) takes labels \(labelNames), got \(values)")
        return children.withLock { children in
            if let existing = children[values] { return existing }
            let created = makeChild()
            children[values] = created
            return created
        }
    }

    /// Removes the child for these label values, if any.
    func remove(_ values: [String]) {
        _ = children.withLock { $0.removeValue(forKey: values) }
    }

    /// `# HELP`, `# TYPE` and every child's samples, children ordered by their label values as
    /// client_golang orders them. A labelled family with no child writes nothing at all.
    func write(to text: inout String) {
        let snapshot = children.withLock { $0.map { ($0.key, $0.value) } }
        guard !snapshot.isEmpty else { return }
        text += "# HELP \(name) \(PrometheusText.escapeHelp(help))\n"
        text += "# TYPE \(name) \(type.rawValue)\n"
        for (values, child) in snapshot.sorted(by: { $0.0.lexicographicallyPrecedes($1.0) }) {
            child.writeSamples(name: name, labels: PrometheusText.labelPairs(labelNames, values), to: &text)
        }
    }
}

/// Appends `name{labels} value\n` (without braces when there are no labels).
func writeSampleLine(_ name: String, _ labels: String, _ value: Double, to text: inout String) {
    text += name
    if !labels.isEmpty { text += "{" + labels + "}" }
    text += " " + PrometheusText.format(value) + "\n"
}

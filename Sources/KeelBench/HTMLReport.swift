import Foundation

/// `--report FILE.html`: one self-contained page for a network run: parameters, the summary
/// table, the latency distribution and throughput and p99 over time, as inline SVG drawn
/// by `SVGPlot`. Inline CSS, no scripts, nothing fetched: it opens offline.
struct HTMLReport {
    let result: NetworkResult

    init(_ result: NetworkResult) { self.result = result }

    var rendered: String {
        var page = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <title>keel-bench \(XMLText.escaped(result.workload))</title>
        <style>
        body { font-family: sans-serif; margin: 2em; color: #222; }
        table { border-collapse: collapse; margin: 1em 0; }
        th, td { border: 1px solid #ccc; padding: 3px 8px; }
        td.n { text-align: right; font-variant-numeric: tabular-nums; }
        svg { display: block; margin: 1em 0; background: #fff; }
        .error { color: #a00; }
        </style></head><body>
        <h1>keel-bench \(XMLText.escaped(result.workload))</h1>

        """
        page += "<h2>Parameters</h2>\n<table>\n"
        for (name, value) in result.parameters {
            page += "<tr><th>\(XMLText.escaped(name))</th><td>\(XMLText.escaped(value))</td></tr>\n"
        }
        page += "</table>\n<h2>Summary</h2>\n" + summaryTable
        if let error = result.firstError {
            page += "<p class=\"error\">\(result.failures) failed; the first: \(XMLText.escaped(error))</p>\n"
        }
        page += "<h2>Latency distribution</h2>\n" + latencyPlot.rendered + "\n"
        page += "<h2>Over time</h2>\n" + throughputPlot.rendered + "\n" + p99Plot.rendered + "\n"
        page += "<p>The last second of a run is usually partial.</p>\n</body></html>\n"
        return page
    }

    private var summaryTable: String {
        var table = "<table>\n<tr><th></th><th>\(XMLText.escaped(result.unit))</th><th>per s</th><th>p50 µs</th><th>p90 µs</th>"
            + "<th>p99 µs</th><th>p99.9 µs</th><th>max µs</th><th>failed</th></tr>\n"
        func row(_ name: String, _ latency: LatencyRecorder, failures: String) {
            let s = latency.summary
            let rate = result.seconds > 0 ? Double(s.count) / result.seconds : 0
            let cells = [Format.grouped(s.count), Format.grouped(UInt64(rate)), String(s.p50Microseconds),
                         String(s.p90Microseconds), String(s.p99Microseconds), String(s.p999Microseconds),
                         String(s.maxMicroseconds), failures]
            table += "<tr><th>\(XMLText.escaped(name))</th>" + cells.map { "<td class=\"n\">\($0)</td>" }.joined() + "</tr>\n"
        }
        row(result.workload, result.latency, failures: String(result.failures))
        for extra in result.rows { row(extra.name, extra.latency, failures: "") }
        return table + "</table>\n<p>\(Format.grouped(result.requests)) \(XMLText.escaped(result.unit)) in "
            + "\(Format.fixed(result.seconds, decimals: 2)) s.</p>\n"
    }

    /// Latency against percentile on HdrHistogram's axis: 1 / (1 − p), log scaled, so each
    /// "nine" (90%, 99%, 99.9%) gets the same width.
    private var latencyPlot: SVGPlot {
        let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
        let curves = [(result.workload, result.latency)] + result.rows.map { ($0.name, $0.latency) }
        let all = curves.map { ($0.0, $0.1.percentileCurve()) }.filter { !$0.1.isEmpty }
        let decades = max(1, all.map { Int(log10(Double(max($0.1.count, 1))).rounded(.up)) }.max() ?? 1,
                          Int(log10(Double(max(result.latency.count, 10))).rounded(.up)))
        let upper = pow(10, Double(decades))
        let ticks = (0...decades).map { decade -> (Double, String) in
            (pow(10, Double(decade)), Self.percentileLabel(decade: decade))
        }
        let maximum = Double(all.flatMap { $0.1.map(\.microseconds) }.max() ?? 1)
        let series = all.enumerated().map { index, curve in
            SVGPlot.Series(name: curve.0, color: palette[index % palette.count], points: curve.1.map { point in
                (point.percentile >= 100 ? upper : 1 / (1 - point.percentile / 100), Double(point.microseconds))
            })
        }
        return SVGPlot(title: "latency by percentile",
                       x: SVGPlot.Axis(title: "percentile", scale: .log10, lower: 1, upper: upper, ticks: ticks),
                       y: SVGPlot.linearAxis(title: "µs", maximum: maximum), series: series)
    }

    /// "0%", "90%", "99%", "99.9%", ...: the percentile at 10^decade on the 1 / (1 − p) axis.
    static func percentileLabel(decade: Int) -> String {
        switch decade {
        case 0: "0%"
        case 1: "90%"
        case 2: "99%"
        default: "99." + String(repeating: "9", count: decade - 2) + "%"
        }
    }

    private var throughputPlot: SVGPlot {
        let rows = result.series.rows
        return timePlot(title: "\(result.unit) per second", yTitle: "\(result.unit)/s",
                        points: rows.map { (Double($0.second), Double($0.requests)) })
    }

    private var p99Plot: SVGPlot {
        let rows = result.series.rows.filter { $0.requests > 0 }
        return timePlot(title: "p99 latency per second", yTitle: "µs",
                        points: rows.map { (Double($0.second), Double($0.p99Microseconds)) })
    }

    private func timePlot(title: String, yTitle: String, points: [(Double, Double)]) -> SVGPlot {
        let seconds = max(Double(result.series.rows.count), 1)
        // Whole seconds only: at most one tick per second.
        let tickCount = max(1, min(10, Int(seconds)))
        let step = SVGPlot.tickStep(lower: 0, upper: seconds, count: tickCount)
        let x = SVGPlot.Axis(title: "second", scale: .linear, lower: 0, upper: seconds,
                             ticks: SVGPlot.linearTicks(lower: 0, upper: seconds, count: tickCount).map { ($0, SVGPlot.label($0, step: step)) })
        return SVGPlot(title: title, x: x, y: SVGPlot.linearAxis(title: yTitle, maximum: points.map(\.1).max() ?? 1),
                       series: [SVGPlot.Series(name: yTitle, color: "#1f77b4", points: points)])
    }
}

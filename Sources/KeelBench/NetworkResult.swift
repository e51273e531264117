import ArgumentParser
import Foundation

/// The outcome of one network workload, as the table, the JSON object and the HTML report
/// show it.
struct NetworkResult {
    var workload: String
    var parameters: [(String, String)]
    /// Requests answered (for watch: events delivered).
    var requests: UInt64
    var failures: Int
    var seconds: Double
    var latency: LatencyRecorder
    /// Latencies reported apart as extra rows (txn-mixed's reads and writes, watch's puts).
    var rows: [(name: String, latency: LatencyRecorder)] = []
    var series: NetworkSeries
    var firstError: String?
    /// Workload-specific members appended to the JSON object.
    var extraJSON: [(String, JSONValue)] = []
    /// What "requests" counts, for people: "requests" or "events".
    var unit = "requests"

    init(workload: String, options: NetworkOptions, measurement: NetworkMeasurement) {
        self.workload = workload
        parameters = options.parameters
        requests = measurement.latency.count
        failures = measurement.failures
        seconds = measurement.seconds
        latency = measurement.latency
        series = measurement.series
        firstError = measurement.firstError
    }

    var requestsPerSecond: Double { seconds > 0 ? Double(requests) / seconds : 0 }

    /// Prints the table or the JSON object, writes the HTML report when asked, and says
    /// what failed on stderr. Throws (a non-zero exit) when not one request succeeded.
    func emit(_ options: NetworkOptions) throws {
        if options.json { print(json.rendered) } else { print(table) }
        if let path = options.report {
            do {
                try Data(HTMLReport(self).rendered.utf8).write(to: URL(fileURLWithPath: path))
            } catch {
                throw BenchFailure("cannot write the report \(path): \(error)")
            }
        }
        if let firstError {
            BenchSystem.writeStandardError("keel-bench \(workload): \(failures) failed; the first: \(firstError)\n")
        }
        if requests == 0 && failures > 0 { throw ExitCode(1) }
    }

    var table: String {
        var table = TextTable([
            .init(title: "workload", alignment: .left), .init(title: unit, alignment: .right),
            .init(title: "per s", alignment: .right), .init(title: "p50 µs", alignment: .right),
            .init(title: "p90 µs", alignment: .right), .init(title: "p99 µs", alignment: .right),
            .init(title: "p99.9 µs", alignment: .right), .init(title: "max µs", alignment: .right),
            .init(title: "failed", alignment: .right),
        ])
        func row(_ name: String, _ latency: LatencyRecorder, failures: String) {
            let summary = latency.summary
            let rate = seconds > 0 ? Double(summary.count) / seconds : 0
            table.append([name, Format.grouped(summary.count), Format.grouped(UInt64(rate)),
                          String(summary.p50Microseconds), String(summary.p90Microseconds),
                          String(summary.p99Microseconds), String(summary.p999Microseconds),
                          String(summary.maxMicroseconds), failures])
        }
        row(workload, latency, failures: String(failures))
        for extra in rows { row("  " + extra.name, extra.latency, failures: "") }
        let header = "keel-bench \(workload): " + parameters.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
        return header + "\n" + "\(Format.grouped(requests)) \(unit) in \(Format.fixed(seconds, decimals: 2)) s\n" + table.rendered
    }

    var json: JSONValue {
        let summary = latency.summary
        var members: [(String, JSONValue)] = [
            ("workload", .string(workload)), ("requests", .unsigned(requests)), ("failures", .integer(Int64(failures))),
            ("seconds", .number(seconds, decimals: 3)), ("requestsPerSecond", .number(requestsPerSecond, decimals: 1)),
        ]
        members += Self.percentiles(summary)
        members.append(("perSecond", .array(series.rows.map { row in
            .object([("second", .integer(Int64(row.second))), ("requests", .unsigned(row.requests)),
                     ("p99Microseconds", .unsigned(row.p99Microseconds))])
        })))
        for extra in rows {
            members.append((extra.name, .object([("requests", .unsigned(extra.latency.count))]
                + Self.percentiles(extra.latency.summary))))
        }
        members.append(("parameters", .object(parameters.map { ($0.0, .string($0.1)) })))
        if let firstError { members.append(("firstError", .string(firstError))) }
        return .object(members + extraJSON)
    }

    private static func percentiles(_ summary: LatencySummary) -> [(String, JSONValue)] {
        [("p50Microseconds", .unsigned(summary.p50Microseconds)), ("p90Microseconds", .unsigned(summary.p90Microseconds)),
         ("p99Microseconds", .unsigned(summary.p99Microseconds)), ("p999Microseconds", .unsigned(summary.p999Microseconds)),
         ("maxMicroseconds", .unsigned(summary.maxMicroseconds))]
    }
}

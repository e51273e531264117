import KeelServer
import Testing

@Suite("Prometheus text exposition")
struct MetricsRegistryTests {
    @Test("values are printed as Go's FormatFloat 'g' -1 prints them")
    func goFloatFormat() {
        let registry = MetricsRegistry()
        let cases: [(Double, String)] = [
            (0, "0"), (1, "1"), (-1.5, "-1.5"), (0.001, "0.001"), (8.192, "8.192"), (0.0001, "0.0001"),
            (0.00001, "1e-05"), (2.5e-05, "2.5e-05"), (123456, "123456"), (1_000_000, "1e+06"),
            (1_048_576, "1.048576e+06"), (123_456_789, "1.23456789e+08"), (1.71161221321e+09, "1.71161221321e+09"),
            (Double(UInt64.max), "1.8446744073709552e+19"), (0.1 + 0.2, "0.30000000000000004"),
            (.infinity, "+Inf"), (-.infinity, "-Inf"), (1e-300, "1e-300"), (1e300, "1e+300"),
        ]
        for (index, (value, _)) in cases.enumerated() {
            registry.gauge("g\(index)", help: "").set(value)
        }
        let lines = registry.exposition().split(separator: "\n").filter { !$0.hasPrefix("#") }
        var printed: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: " ")
            printed[String(parts[0])] = String(parts[1])
        }
        for (index, (value, expected)) in cases.enumerated() {
            #expect(printed["g\(index)"] == expected, "\(value)")
        }
    }

    @Test("counters, labelled gauges and histograms; families sorted, label values escaped")
    func exposition() throws {
        let registry = MetricsRegistry()
        let requests = registry.counter("b_requests_total", help: "Requests.\nSecond line \\ backslash.", labelNames: ["code", "path"])
        requests.labels("200", "/x").add(3)
        requests.labels("500", "a \"quoted\"\nnewline\\").increment()
        registry.gauge("a_up", help: "Up.").set(1)
        let latency = registry.histogram("c_seconds", help: "Latency.", buckets: [0.5, 1])
        latency.observe(0.25)
        latency.observe(0.5)
        latency.observe(3)
        _ = registry.gauge("d_unused", help: "A labelled family without children.", labelNames: ["x"])
        let text = registry.exposition()
        #expect(
            text == """
                # HELP a_up Up.
                # TYPE a_up gauge
                a_up 1
                # HELP b_requests_total Requests.\\nSecond line \\\\ backslash.
                # TYPE b_requests_total counter
                b_requests_total{code="200",path="/x"} 3
                b_requests_total{code="500",path="a \\"quoted\\"\\nnewline\\\\"} 1
                # HELP c_seconds Latency.
                # TYPE c_seconds histogram
                c_seconds_bucket{le="0.5"} 2
                c_seconds_bucket{le="1"} 2
                c_seconds_bucket{le="+Inf"} 3
                c_seconds_sum 3.75
                c_seconds_count 3

                """)
        _ = try ExpositionCheck.parse(text)
    }

    @Test("concurrent recording loses nothing")
    func concurrentRecording() async {
        let registry = MetricsRegistry()
        let counter = registry.counter("n_total", help: "")
        let gauge = registry.gauge("g", help: "")
        let histogram = registry.histogram("h", help: "", buckets: [1, 2])
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<10_000 {
                        counter.increment()
                        gauge.add(1)
                        histogram.observe(1.5)
                    }
                }
            }
        }
        #expect(counter.value == 40_000)
        #expect(gauge.value == 40_000)
        #expect(histogram.count == 40_000)
        #expect(histogram.sum == 60_000)
    }

    @Test("EtcdMetrics declares etcd's names, types and buckets, and the whole scrape parses")
    func etcdMetrics() throws {
        let metrics = EtcdMetrics()
        metrics.serverID.labels("8e9e05c52164694d").set(1)
        metrics.serverVersion.labels("3.5.33").set(1)
        metrics.setClusterVersion("3.4.0", previous: nil)
        metrics.setClusterVersion("3.5.0", previous: "3.4.0")
        metrics.dbTotalSizeBytes.bind { 20480 }
        metrics.backendCommitDuration.observe(0.002)
        _ = metrics.grpc.method(path: "/etcdserverpb.KV/Range", type: "unary")
        let text = metrics.registry.exposition()
        let check = try ExpositionCheck.parse(text)
        for (name, type) in [
            ("etcd_disk_wal_fsync_duration_seconds", "histogram"), ("etcd_disk_backend_commit_duration_seconds", "histogram"),
            ("etcd_server_has_leader", "gauge"), ("etcd_server_is_leader", "gauge"),
            ("etcd_server_leader_changes_seen_total", "counter"), ("etcd_server_proposals_committed_total", "gauge"),
            ("etcd_server_proposals_applied_total", "gauge"), ("etcd_server_proposals_pending", "gauge"),
            ("etcd_server_proposals_failed_total", "counter"), ("etcd_server_slow_apply_total", "counter"),
            ("etcd_mvcc_db_total_size_in_bytes", "gauge"), ("etcd_mvcc_db_total_size_in_use_in_bytes", "gauge"),
            ("etcd_server_quota_backend_bytes", "gauge"),
            ("etcd_mvcc_put_total", "counter"), ("etcd_mvcc_delete_total", "counter"), ("etcd_mvcc_range_total", "counter"),
            ("etcd_mvcc_txn_total", "counter"), ("etcd_server_id", "gauge"), ("etcd_server_version", "gauge"),
            ("etcd_cluster_version", "gauge"), ("grpc_server_started_total", "counter"),
            ("grpc_server_handled_total", "counter"), ("process_resident_memory_bytes", "gauge"),
            ("process_open_fds", "gauge"), ("process_start_time_seconds", "gauge"),
            ("process_cpu_seconds_total", "counter"),
        ] {
            #expect(check.types[name] == type, "\(name)")
        }
        let bounds = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192]
        for bound in bounds {
            #expect(text.contains("etcd_disk_backend_commit_duration_seconds_bucket{le=\"\(bound)\"}"), "\(bound)")
        }
        #expect(check.samples[#"etcd_disk_backend_commit_duration_seconds_bucket{le="0.002"}"#] == 1)
        #expect(check.samples[#"etcd_cluster_version{cluster_version="3.4.0"}"#] == 0)
        #expect(check.samples[#"etcd_cluster_version{cluster_version="3.5.0"}"#] == 1)
        #expect(check.samples[#"etcd_server_id{server_id="8e9e05c52164694d"}"#] == 1)
        #expect(check.samples["etcd_mvcc_db_total_size_in_bytes"] == 20480)
        #expect(check.samples["etcd_mvcc_db_total_size_in_use_in_bytes"] == 0)
        // go-grpc-prometheus creates every code's series at zero when a method is registered.
        #expect(
            check.samples[#"grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Range",grpc_code="Unauthenticated"}"#]
                == 0)
    }
}

/// A checker of the text format 0.0.4: every line is a HELP, a TYPE or a sample line; a
/// family's TYPE comes once, before its samples; histogram buckets are cumulative and their
/// +Inf bucket equals `_count`.
struct ExpositionCheck {
    var types: [String: String] = [:]
    /// Sample values by `name{labels}` exactly as printed.
    var samples: [String: Double] = [:]

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ text: String) throws -> ExpositionCheck {
        var check = ExpositionCheck()
        guard text.hasSuffix("\n") else { throw Invalid(description: "no final newline") }
        var buckets: [String: [(Double, Double)]] = [:]  // series without le → (le, value)
        for line in text.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst("# HELP ".count)
                guard let name = rest.split(separator: " ", maxSplits: 1).first, isName(name) else {
                    throw Invalid(description: "bad HELP line: \(line)")
                }
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst("# TYPE ".count).split(separator: " ")
                guard parts.count == 2, isName(parts[0]), ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[1]),
                    check.types[String(parts[0])] == nil
                else { throw Invalid(description: "bad or repeated TYPE line: \(line)") }
                check.types[String(parts[0])] = String(parts[1])
            } else {
                let (series, name, labels, value) = try sample(line)
                let family = check.types[name] != nil ? name : baseName(name)
                guard check.types[family] != nil else { throw Invalid(description: "sample before its TYPE: \(line)") }
                check.samples[series] = value
                if name.hasSuffix("_bucket") {
                    guard let le = labels.first(where: { $0.0 == "le" }), let bound = goFloat(le.1) else {
                        throw Invalid(description: "bucket without le: \(line)")
                    }
                    let key = baseName(name) + labels.filter { $0.0 != "le" }.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
                    buckets[key, default: []].append((bound, value))
                }
            }
        }
        for (key, series) in buckets {
            guard zip(series, series.dropFirst()).allSatisfy({ $0.0 < $1.0 && $0.1 <= $1.1 }) else {
                throw Invalid(description: "buckets of \(key) not increasing/cumulative: \(series)")
            }
            guard let last = series.last, last.0 == .infinity else { throw Invalid(description: "\(key) lacks +Inf") }
        }
        for (series, value) in check.samples where series.contains("_count") {
            let infSeries = series.replacingOccurrences("_count", "_bucket").withLabel(#"le="+Inf""#)
            if let inf = check.samples[infSeries], inf != value {
                throw Invalid(description: "\(series) \(value) != +Inf bucket \(inf)")
            }
        }
        return check
    }

    private static func baseName(_ name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
        return name
    }

    private static func isName(_ name: Substring) -> Bool {
        guard let first = name.first, !first.isNumber else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" || $0 == ":" }
    }

    private static func goFloat(_ text: String) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
    }

    /// `name{l="v",...} value` → (series text, name, labels, value).
    private static func sample(_ line: Substring) throws -> (String, String, [(String, String)], Double) {
        var index = line.startIndex
        while index < line.endIndex, line[index] != "{", line[index] != " " { index = line.index(after: index) }
        let name = line[..<index]
        guard isName(name), index < line.endIndex else { throw Invalid(description: "bad sample line: \(line)") }
        var labels: [(String, String)] = []
        if line[index] == "{" {
            index = line.index(after: index)
            while line[index] != "}" {
                guard let equals = line[index...].firstIndex(of: "=") else { throw Invalid(description: "bad labels: \(line)") }
                let label = line[index..<equals]
                guard isName(label), line[line.index(after: equals)] == "\"" else { throw Invalid(description: "bad label: \(line)") }
                var cursor = line.index(equals, offsetBy: 2)
                var value = ""
                while line[cursor] != "\"" {
                    if line[cursor] == "\\" {
                        cursor = line.index(after: cursor)
                        guard ["\\", "\"", "n"].contains(line[cursor]) else { throw Invalid(description: "bad escape: \(line)") }
                    }
                    value.append(line[cursor])
                    cursor = line.index(after: cursor)
                }
                labels.append((String(label), value))
                index = line.index(after: cursor)
                if line[index] == "," { index = line.index(after: index) }
            }
            index = line.index(after: index)
        }
        let series = String(line[..<index])
        let rest = line[index...]
        guard rest.hasPrefix(" "), let value = goFloat(String(rest.dropFirst())) else {
            throw Invalid(description: "bad value: \(line)")
        }
        return (series, String(name), labels, value)
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }

    /// `name{a="1"}` + `le="+Inf"` → `name{a="1",le="+Inf"}`; `name` → `name{le="+Inf"}`.
    fileprivate func withLabel(_ pair: String) -> String {
        hasSuffix("}") ? String(dropLast()) + "," + pair + "}" : self + "{" + pair + "}"
    }
}

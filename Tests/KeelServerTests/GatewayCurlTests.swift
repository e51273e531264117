import Foundation
import KeelTestSupport
import Testing

/// curl against the JSON gateway on the client port, as etcd documents it.
@Suite struct GatewayCurlTests {
    @Test func putRangeTxnHealthMetrics() throws {
        let keel = try KeelProcess()
        // "foo" = Zm9v, "bar" = YmFy, "baz" = YmF6
        let put = try object(keel.curl("/v3/kv/put", body: #"{"key":"Zm9v","value":"YmFy"}"#))
        let putHeader = try #require(put["header"] as? [String: Any])
        #expect(putHeader["revision"] as? String == "2" || putHeader["revision"] as? String != nil)
        let range = try object(keel.curl("/v3/kv/range", body: #"{"key":"Zm9v"}"#))
        let kvs = try #require(range["kvs"] as? [[String: Any]])
        #expect(kvs.first?["key"] as? String == "Zm9v" && kvs.first?["value"] as? String == "YmFy")
        #expect(range["count"] as? String == "1")
        // count_only (etcdctl 3.4 has no --count-only; the gateway takes the field).
        let counted = try object(keel.curl("/v3/kv/range", body: #"{"key":"AA==","range_end":"AA==","count_only":true}"#))
        #expect(counted["count"] as? String == "1" && counted["kvs"] == nil, "\(counted)")

        let txn = try object(keel.curl("/v3/kv/txn", body: #"""
            {"compare":[{"target":"VALUE","key":"Zm9v","value":"YmFy"}],
             "success":[{"request_put":{"key":"Zm9v","value":"YmF6"}}]}
            """#))
        #expect(txn["succeeded"] as? Bool == true)
        #expect(keel.etcdctl(["get", "foo", "--print-value-only"]).output == "baz\n")
        // The deprecated v3beta prefix serves the same routes.
        let beta = try object(keel.curl("/v3beta/kv/range", body: #"{"key":"Zm9v"}"#))
        #expect((beta["kvs"] as? [[String: Any]])?.count == 1)

        let error = try object(keel.curl("/v3/kv/put", body: #"{"value":"YmFy"}"#))
        #expect(error["message"] as? String == "etcdserver: key is not provided" && error["code"] as? Int == 3)

        let health = try object(keel.curl("/health"))
        #expect(health["health"] as? String == "true")

        let metrics = keel.curl("/metrics").output
        var names = Set<String>()
        for line in metrics.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            #expect(parts.count == 2 && Double(parts[1]) != nil, "bad exposition line: \(line)")
            names.insert(String(parts[0].prefix { $0 != "{" }))
        }
        for name in ["etcd_server_has_leader", "etcd_mvcc_db_total_size_in_bytes", "etcd_server_proposals_committed_total",
                     "etcd_disk_wal_fsync_duration_seconds_bucket", "grpc_server_handled_total"] {
            #expect(names.contains(name), "/metrics lacks \(name)")
        }
    }

    /// /debug/latency after writes and reads: every stage a one-member write and read passes
    /// through has counted them, quantiles are ordered, and reset=true starts over.
    @Test func debugLatencyShowsEveryStage() throws {
        let keel = try KeelProcess()
        for i in 0..<20 { #expect(keel.etcdctl(["put", "k\(i)", "v"]).output == "OK\n") }
        for _ in 0..<10 { #expect(keel.etcdctl(["get", "k", "--prefix", "--keys-only"]).exitStatus == 0) }
        #expect(keel.etcdctl(["get", "k1", "--consistency=s"]).output == "k1\nv\n")
        let stages = latencyStages(keel.curl("/debug/latency?reset=true").output)
        #expect(stages.count == 11, "\(stages.keys)")
        let counts = stages.compactMapValues { ($0["count"] as? NSNumber)?.intValue }
        for (name, stage) in stages {
            let figures = ["p50Microseconds", "p90Microseconds", "p99Microseconds", "p999Microseconds", "maxMicroseconds"]
                .map { (stage[$0] as? NSNumber)?.doubleValue ?? -1 }
            #expect(figures.allSatisfy { $0 >= 0 } && figures == figures.sorted(), "\(name): \(figures)")
        }
        for name in ["proposal_wait", "write_total"] { #expect(counts[name] ?? 0 >= 20, "\(name): \(counts)") }
        for name in ["wal_write_fsync", "apply_queue", "apply_wal_wait", "apply"] { #expect(counts[name] ?? 0 >= 1, "\(name): \(counts)") }
        // 10 linearizable gets wait for a read index; those and the serializable one walk the index.
        #expect(counts["read_index_wait"] ?? 0 >= 10 && counts["index_lookup"] ?? 0 >= 11 && counts["backend_read"] ?? 0 >= 11, "\(counts)")
        // One member: nothing is replicated.
        #expect(counts["replication"] == 0)
        let metrics = keel.curl("/metrics").output
        #expect(metrics.contains(#"keel_stage_duration_seconds_count{stage="write_total"}"#))
        // The reset happened after the answer above.
        let after = latencyStageCounts(keel.curl("/debug/latency").output)
        #expect(after["proposal_wait"] == 0, "\(after)")
    }

    private func object(_ outcome: Subprocess.Outcome) throws -> [String: Any] {
        let parsed = try JSONSerialization.jsonObject(with: Data(outcome.output.utf8))
        return try #require(parsed as? [String: Any], "\(outcome.output)")
    }
}

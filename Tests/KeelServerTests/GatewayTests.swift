import KeelAPI
import KeelServer
import NIOCore
import NIOHTTP1
import Testing

@Suite("JSON gateway on the client port")
struct GatewayTests {
    @Test("put then range in JSON: base64 bytes, 64-bit integers as strings, proto field names")
    func putRangeRoundTrip() async throws {
        try await GatewayHarness.with { harness in
            let put = try await harness.post("/v3/kv/put", #"{"key":"Zm9v","value":"YmFy"}"#)
            #expect(put.status == .ok)
            #expect(put.headers.first(name: "content-type") == "application/json")
            #expect(put.body == #"{"header":{"cluster_id":"16045690981097406465","revision":"2"}}"#)
            #expect(put.headers.first(name: "grpc-metadata-content-type") == "application/grpc")

            let range = try await harness.post("/v3/kv/range", #"{"key":"Zm9v"}"#)
            #expect(range.status == .ok)
            #expect(
                range.body
                    == #"{"header":{"revision":"2"},"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"}"#
            )
            // lowerCamel names and 64-bit integers as numbers are accepted too, unknown fields ignored.
            let camel = try await harness.post("/v3/kv/range", #"{"key":"Zm8=","rangeEnd":"Zm9w","limit":10,"bogus":1}"#)
            #expect(camel.status == .ok)
            #expect(camel.body.contains(#""value":"YmFy""#))
        }
    }

    @Test("/v3beta/ is served as /v3/, an empty body is an empty request, the auth header reaches the handler")
    func v3betaAndEmptyBody() async throws {
        try await GatewayHarness.with { harness in
            let put = try await harness.post("/v3beta/kv/put", "", headers: [("Authorization", "tok123")])
            #expect(put.status == .ok)
            #expect(harness.kv.lastToken.withLock { $0 } == "tok123")
            let range = try await harness.post("/v3beta/kv/range", "  \n")
            #expect(range.status == .ok)
            #expect(range.body.contains(#""count":"1""#))  // the empty key written by the empty put
        }
    }

    @Test("a failed call answers grpc-gateway's status and JSON error body")
    func errorMapping() async throws {
        try await GatewayHarness.with { harness in
            let delete = try await harness.post("/v3/kv/deleterange", "{}")
            #expect(delete.status == .badRequest)
            #expect(delete.headers.first(name: "content-type") == "application/json")
            #expect(
                delete.body
                    == #"{"error":"etcdserver: key is not provided","code":3,"message":"etcdserver: key is not provided"}"#)

            let txn = try await harness.post("/v3/kv/txn", "{}")
            #expect(txn.status == .serviceUnavailable)
            #expect(txn.body == #"{"error":"etcdserver: no leader","code":14,"message":"etcdserver: no leader"}"#)

            let compact = try await harness.post("/v3/kv/compaction", #"{"revision":"99"}"#)
            #expect(compact.status == .badRequest)
            #expect(compact.body.contains(#""code":11"#))

            let plain = try await harness.post("/v3/lease/grant", #"{"TTL":"5"}"#)
            #expect(plain.status == .internalServerError)
            #expect(plain.body == #"{"error":"disk on fire","code":2,"message":"disk on fire"}"#)
        }
    }

    @Test("Grpc-Timeout bounds a gateway call: 504 with DEADLINE_EXCEEDED; a malformed one is 400")
    func deadline() async throws {
        try await GatewayHarness.with { harness in
            let late = try await harness.post("/v3/maintenance/status", "{}", headers: [("Grpc-Timeout", "50m")])
            #expect(late.status == .gatewayTimeout)
            #expect(late.body.contains(#""code":4"#))
            let bad = try await harness.post("/v3/maintenance/status", "{}", headers: [("Grpc-Timeout", "soon")])
            #expect(bad.status == .badRequest)
            #expect(bad.body.contains("invalid grpc-timeout: soon"))
            let unbounded = try await harness.post("/v3/maintenance/status", "")
            #expect(unbounded.status == .ok)
            #expect(unbounded.body == "{}")
        }
    }

    @Test("bad JSON is INVALID_ARGUMENT, 400, in the JSON error shape")
    func badJSON() async throws {
        try await GatewayHarness.with { harness in
            for body in [#"{"key":"#, "not json", #"{"key":12}"#, #"{"limit":"many"}"#] {
                let answer = try await harness.post("/v3/kv/range", body)
                #expect(answer.status == .badRequest, "\(body)")
                #expect(answer.body.hasPrefix(#"{"error":""#), "\(body)")
                #expect(answer.body.contains(#","code":3,"message":""#), "\(body)")
                #expect(answer.headers.first(name: "grpc-metadata-content-type") == nil, "refused before the call")
            }
        }
    }

    @Test("unknown and streaming routes are 404, a wrong method 405, outside /v3/ Go's 404")
    func unknownRoutes() async throws {
        try await GatewayHarness.with { harness in
            for path in ["/v3/kv/nothing", "/v3/watch", "/v3/lease/keepalive", "/v3/kv/range/", "/v3/cluster/member/list"] {
                let answer = try await harness.post(path, "{}")
                #expect(answer.status == .notFound, "\(path)")
                #expect(answer.body == "Not Found\n", "\(path)")
                #expect(answer.headers.first(name: "content-type") == "text/plain; charset=utf-8")
            }
            let get = try await harness.get("/v3/kv/range")
            #expect(get.status == .methodNotAllowed)
            #expect(get.body == "Method Not Allowed\n")
            let outside = try await harness.get("/v2/keys")
            #expect(outside.status == .notFound)
            #expect(outside.body == "404 page not found\n")
            #expect(outside.headers.first(name: "access-control-allow-origin") == "*")
            let preflight = try await HTTPAnswer.fetch(
                port: harness.server.port, group: harness.group, method: .OPTIONS, path: "/v3/kv/put", body: "", headers: [])
            #expect(preflight.status == .ok)
            #expect(preflight.body == "")
            #expect(preflight.headers.first(name: "access-control-allow-headers") == "accept, content-type, authorization")
        }
    }

    @Test("/health answers etcd's JSON with 200 or 503 and passes its query on")
    func health() async throws {
        try await GatewayHarness.with { harness in
            let healthy = try await harness.get("/health")
            #expect(healthy.status == .ok)
            #expect(healthy.body == #"{"health":"true","reason":""}"#)
            #expect(harness.healthBox.lastQuery.withLock { $0 } == HealthQuery())

            harness.healthBox.status.withLock { $0 = HealthStatus(healthy: false, reason: "RAFT NO LEADER") }
            let sick = try await harness.get("/health?serializable=true&exclude=NOSPACE&exclude=")
            #expect(sick.status == .serviceUnavailable)
            #expect(sick.body == #"{"health":"false","reason":"RAFT NO LEADER"}"# + "\n")
            #expect(harness.healthBox.lastQuery.withLock { $0 } == HealthQuery(serializable: true, excludedAlarms: ["NOSPACE"]))

            let post = try await harness.post("/health", "")
            #expect(post.status == .methodNotAllowed)
            #expect(post.headers.first(name: "allow") == "GET")

            let exposition = harness.metrics.registry.exposition()
            #expect(exposition.contains("etcd_server_health_success 1\n"))
            #expect(exposition.contains("etcd_server_health_failures 1\n"))
        }
    }

    @Test("/version answers the server and cluster versions")
    func version() async throws {
        try await GatewayHarness.with { harness in
            let version = try await harness.get("/version")
            #expect(version.status == .ok)
            #expect(version.headers.first(name: "content-type") == "application/json")
            #expect(version.body == #"{"etcdserver":"3.5.33","etcdcluster":"3.5.0"}"#)
        }
    }

    @Test("/metrics serves a valid exposition that counts gateway calls")
    func metrics() async throws {
        try await GatewayHarness.with { harness in
            _ = try await harness.post("/v3/kv/put", #"{"key":"YQ=="}"#)
            _ = try await harness.post("/v3/kv/deleterange", "{}")
            for seconds in [0.0004, 0.003, 0.003, 0.5, 20] { harness.metrics.walFsyncDuration.observe(seconds) }
            let answer = try await harness.get("/metrics")
            #expect(answer.status == .ok)
            #expect(answer.headers.first(name: "content-type") == "text/plain; version=0.0.4; charset=utf-8")
            let families = try ExpositionCheck.parse(answer.body)
            let put = #"grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="OK"}"#
            #expect(families.samples[put] == 1)
            let refused =
                #"grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="DeleteRange",grpc_code="InvalidArgument"}"#
            #expect(families.samples[refused] == 1)
            #expect(families.samples[#"etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"}"#] == 1)
            #expect(families.samples[#"etcd_disk_wal_fsync_duration_seconds_bucket{le="0.004"}"#] == 3)
            #expect(families.samples[#"etcd_disk_wal_fsync_duration_seconds_bucket{le="8.192"}"#] == 4)
            #expect(families.samples[#"etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"}"#] == 5)
            #expect(families.samples["etcd_disk_wal_fsync_duration_seconds_count"] == 5)
            #expect((families.samples["process_resident_memory_bytes"] ?? 0) > 0)
            #expect((families.samples["process_open_fds"] ?? 0) > 0)
            #expect((families.samples["process_start_time_seconds"] ?? 0) > 1_600_000_000)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelTestSupport
import Testing

/// keel-bench's network workloads against a real keel: each runs with small totals and
/// --json, and what it reports is checked against the store (revisions moved, keys written,
/// leases revoked) and against exact counts (watch events).
@Suite(.serialized) struct KeelBenchTests {
    static var benchPath: String { KeelProcess.builtBinary("keel-bench") }

    /// Runs keel-bench with `arguments`; returns its exit status and output (stdout and stderr).
    static func bench(_ arguments: [String]) -> Subprocess.Outcome {
        Subprocess.run(benchPath, arguments, environment: ["PATH=/usr/bin:/bin"])
    }

    /// Runs a workload with --json against `keel` and parses the one JSON object it printed.
    static func benchJSON(_ keel: KeelProcess, _ arguments: [String]) throws -> [String: Any] {
        let outcome = bench(arguments + ["--endpoints", keel.endpoint, "--json"])
        try #require(outcome.exitStatus == 0, "keel-bench \(arguments) exited \(outcome.exitStatus): \(outcome.output)")
        let text = outcome.output
        let start = try #require(text.firstIndex(of: "{")), end = try #require(text.lastIndex(of: "}"))
        let object = try JSONSerialization.jsonObject(with: Data(text[start...end].utf8))
        return try #require(object as? [String: Any], "\(text)")
    }

    static func revision(_ keel: KeelProcess) throws -> Int {
        let output = keel.etcdctl(["get", "any", "-w", "json"]).output
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
        let header = try #require(object["header"] as? [String: Any], "\(output)")
        return try #require(header["revision"] as? Int, "\(output)")
    }

    static func int(_ object: [String: Any], _ key: String) -> Int? { object[key] as? Int }

    @Test func putAndTxnPutMoveTheRevisionByTheirCount() throws {
        let keel = try KeelProcess()
        let before = try Self.revision(keel)
        let put = try Self.benchJSON(keel, ["put", "--total", "150", "--clients", "4", "--conns", "2",
                                            "--key-space-size", "20", "--sequential-keys", "--val-size", "16"])
        #expect(put["workload"] as? String == "put")
        #expect(Self.int(put, "requests") == 150 && Self.int(put, "failures") == 0, "\(put)")
        let afterPut = try Self.revision(keel)
        #expect(afterPut - before == 150)
        // Sequential keys over 20 slots: exactly 20 keys, all written.
        let count = keel.etcdctl(["get", "0", "--prefix", "--keys-only", "-w", "json"]).output
        #expect(count.contains("\"count\":20"), "\(count)")
        let perSecond = try #require(put["perSecond"] as? [[String: Any]])
        #expect(perSecond.reduce(0) { $0 + (Self.int($1, "requests") ?? 0) } == 150)
        for key in ["p50Microseconds", "p90Microseconds", "p99Microseconds", "p999Microseconds", "maxMicroseconds"] {
            #expect((Self.int(put, key) ?? 0) > 0, "\(key) in \(put)")
        }
        let txn = try Self.benchJSON(keel, ["txn-put", "--total", "60", "--txn-ops", "3", "--clients", "3",
                                            "--key-space-size", "10"])
        #expect(Self.int(txn, "requests") == 60 && Self.int(txn, "failures") == 0, "\(txn)")
        #expect(try Self.revision(keel) - afterPut == 60)
    }

    @Test func rangeAndTxnMixedReadThePrefilledKeySpace() throws {
        let keel = try KeelProcess()
        let before = try Self.revision(keel)
        for consistency in ["l", "s"] {
            let range = try Self.benchJSON(keel, ["range", "--total", "120", "--clients", "4", "--key-space-size", "25",
                                                  "--prefill", "--consistency", consistency])
            #expect(Self.int(range, "requests") == 120 && Self.int(range, "failures") == 0, "\(range)")
        }
        // Reads move nothing; each prefill puts the 25 keys once.
        let afterRanges = try Self.revision(keel)
        #expect(afterRanges - before == 50)
        let mixed = try Self.benchJSON(keel, ["txn-mixed", "--total", "120", "--clients", "3", "--rw-ratio", "3",
                                              "--key-space-size", "25", "--consistency", "s"])
        let reads = try #require(mixed["reads"] as? [String: Any]), writes = try #require(mixed["writes"] as? [String: Any])
        let readCount = try #require(Self.int(reads, "requests")), writeCount = try #require(Self.int(writes, "requests"))
        #expect(Self.int(mixed, "requests") == 120 && Self.int(mixed, "failures") == 0, "\(mixed)")
        #expect(readCount + writeCount == 120 && readCount > writeCount && writeCount > 0, "\(mixed)")
        #expect(try Self.revision(keel) - afterRanges == writeCount)
    }

    @Test func watchDeliversEachPutToEveryWatcherOfItsKey() throws {
        let keel = try KeelProcess()
        // 12 watchers over 5 keys: slots 0 and 1 have 3 watchers, slots 2-4 have 2. 100
        // sequential puts hit each slot 20 times: 20 × 12 events.
        let watch = try Self.benchJSON(keel, ["watch", "--watchers", "12", "--streams", "3", "--puts", "100",
                                              "--key-space-size", "5", "--sequential-keys", "--clients", "2"])
        #expect(Self.int(watch, "requests") == 240 && Self.int(watch, "expectedEvents") == 240, "\(watch)")
        #expect(Self.int(watch, "failures") == 0 && Self.int(watch, "puts") == 100, "\(watch)")
        #expect((Self.int(watch, "p50Microseconds") ?? 0) > 0)
    }

    @Test func leaseKeepAliveRenewsAndRevokes() throws {
        let keel = try KeelProcess()
        let run = try Self.benchJSON(keel, ["lease-keepalive", "--total", "200", "--clients", "4", "--conns", "2"])
        #expect(Self.int(run, "requests") == 200 && Self.int(run, "failures") == 0, "\(run)")
        #expect(keel.etcdctl(["lease", "list"]).output == "found 0 leases\n")
    }

    @Test func rateBoundsTheRequestsOfADuration() throws {
        let keel = try KeelProcess()
        // Request n is due at n / rate seconds: within 1 s at 40/s, requests 0...39 at most.
        let run = try Self.benchJSON(keel, ["put", "--duration", "1", "--rate", "40", "--clients", "4"])
        let requests = try #require(Self.int(run, "requests"))
        #expect(requests >= 1 && requests <= 40 && Self.int(run, "failures") == 0, "\(run)")
    }

    /// A run's duration ends with its last answer: one request's run lasts about that
    /// request's latency. It once ended when the progress poll (every 50 ms) noticed, so a
    /// sub-millisecond request made a run of at least 50 ms.
    @Test func aRunLastsUntilItsLastAnswerNotUntilTheNextProgressPoll() throws {
        let keel = try KeelProcess()
        let run = try Self.benchJSON(keel, ["range", "--consistency", "s", "--total", "1", "--clients", "1", "--conns", "1"])
        let seconds = try #require((run["seconds"] as? NSNumber)?.doubleValue, "\(run)")
        let latency = try #require(Self.int(run, "maxMicroseconds"), "\(run)")
        #expect(Self.int(run, "requests") == 1 && Self.int(run, "failures") == 0, "\(run)")
        #expect(seconds * 1e6 <= Double(latency) + 20_000, "a run of one \(latency) µs request took \(seconds) s: \(run)")
    }

    @Test func reportIsOneOfflineHTMLPage() throws {
        let keel = try KeelProcess()
        let path = keel.directory.path + "/report.html"
        let outcome = Self.bench(["put", "--endpoints", "http://" + keel.endpoint, "--total", "100", "--report", path])
        #expect(outcome.exitStatus == 0, "\(outcome.output)")
        #expect(outcome.output.contains("put") && outcome.output.contains("p99.9 µs"), "\(outcome.output)")
        let html = try String(contentsOfFile: path, encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.components(separatedBy: "<html").count == 2)
        #expect(html.hasSuffix("</html>\n"))
        #expect(html.components(separatedBy: "<svg").count - 1 == 3)
        #expect(html.components(separatedBy: "<polyline").count - 1 >= 3)
        for reference in ["src=", "href=", "url(", "@import", "<script", "<link"] {
            #expect(!html.contains(reference), "\(reference) in the report")
        }
        // The endpoint is shown as text; no other URL appears anywhere.
        let urls = html.components(separatedBy: "http").count - 1
        #expect(urls == 1 && html.contains(">http://\(keel.endpoint)<"), "\(urls) URLs")
    }

    @Test func refusedConnectionsAndBadFlagsExitNonZero() throws {
        let port = freeLoopbackPort()
        let refused = Self.bench(["put", "--endpoints", "127.0.0.1:\(port)", "--total", "10"])
        #expect(refused.exitStatus != 0)
        #expect(refused.output.contains("cannot connect to 127.0.0.1:\(port)") && refused.output.contains("refused"),
                "\(refused.output)")
        let both = Self.bench(["range", "--total", "10", "--duration", "1"])
        #expect(both.exitStatus != 0 && both.output.contains("--total or --duration"), "\(both.output)")
        let txn = Self.bench(["txn-put", "--txn-ops", "5", "--key-space-size", "4"])
        #expect(txn.exitStatus != 0 && txn.output.contains("--key-space-size"), "\(txn.output)")
    }
}

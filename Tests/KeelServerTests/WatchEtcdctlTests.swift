#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelTestSupport
import Testing

/// The real etcdctl's `watch` (Debian's etcd-client 3.4, API v3) against a real keel process,
/// with a writer running at the same time; and curl on the gateway's /v3/watch.
///
/// Each watcher runs in the background under `timeout` with its output in a file, and is
/// stopped once it printed what was expected (or its time ran out). A watch that starts at a
/// given revision sees the same events however late it is established, so most of these pin
/// `--rev`; the ones that do not wait until the server counted the Watch request.
@Suite struct WatchEtcdctlTests {
    @Test func keyAndPrefixWatchesSeeAConcurrentWriterExactly() throws {
        let keel = try KeelProcess()
        let start = try currentRevision(keel) + 1
        let key = try WatchCommand(keel, ["watch", "k1", "--rev", String(start)])
        let prefix = try WatchCommand(keel, ["watch", "k", "--prefix", "--rev", String(start)])
        // A writer that mixes keys in and out of both watches, puts and deletes.
        var writes: [(op: String, key: String, value: String)] = []
        for i in 0..<24 {
            let target = ["k1", "k2", "x", "k10"][i % 4]
            if i % 5 == 4 {
                writes.append(("DELETE", target, ""))
                _ = keel.etcdctl(["del", target])
            } else {
                writes.append(("PUT", target, "v\(i)"))
                #expect(keel.etcdctl(["put", target, "v\(i)"]).output == "OK\n")
            }
        }
        // A delete of a key that does not exist makes no event; keep only those that did.
        var live: Set<String> = []
        var events: [(op: String, key: String, value: String)] = []
        for write in writes {
            if write.op == "PUT" { live.insert(write.key); events.append(write) }
            else if live.remove(write.key) != nil { events.append(write) }
        }
        let keyExpected = render(events.filter { $0.key == "k1" })
        let prefixExpected = render(events.filter { $0.key.hasPrefix("k") })
        #expect(key.waitForOutput(keyExpected) == keyExpected)
        #expect(prefix.waitForOutput(prefixExpected) == prefixExpected)
    }

    @Test func pastRevisionAndPrevKV() throws {
        let keel = try KeelProcess()
        #expect(keel.etcdctl(["put", "a", "1"]).output == "OK\n")  // revision 2
        #expect(keel.etcdctl(["put", "a", "2"]).output == "OK\n")  // 3
        #expect(keel.etcdctl(["del", "a"]).output == "1\n")  // 4
        #expect(keel.etcdctl(["put", "a", "3"]).output == "OK\n")  // 5
        let fromPast = try WatchCommand(keel, ["watch", "a", "--rev", "3"])
        let expectedPast = "PUT\na\n2\nDELETE\na\n\nPUT\na\n3\n"
        #expect(fromPast.waitForOutput(expectedPast) == expectedPast)
        // prev_kv: each event after the first version carries the value it replaced.
        let withPrevious = try WatchCommand(keel, ["watch", "a", "--rev", "2", "--prev-kv"])
        let expectedPrevious = "PUT\na\n1\nPUT\na\n1\na\n2\nDELETE\na\n2\na\n\nPUT\na\n3\n"
        #expect(withPrevious.waitForOutput(expectedPrevious) == expectedPrevious)
    }

    @Test func compactedRevisionCancelsTheWatch() throws {
        let keel = try KeelProcess()
        for i in 1...5 { #expect(keel.etcdctl(["put", "c", "v\(i)"]).output == "OK\n") }
        #expect(keel.etcdctl(["compaction", "4"]).output == "compacted revision 4\n")
        let compacted = try WatchCommand(keel, ["watch", "c", "--rev", "2"])
        let message = "etcdserver: mvcc: required revision has been compacted"
        let output = compacted.waitForOutput(message, exitAfter: true)
        #expect(output.contains("watch was canceled (\(message))"), "\(output)")
        // From the compact revision on, history is whole.
        let kept = try WatchCommand(keel, ["watch", "c", "--rev", "4"])
        let keptExpected = "PUT\nc\nv3\nPUT\nc\nv4\nPUT\nc\nv5\n"
        #expect(kept.waitForOutput(keptExpected) == keptExpected)
    }

    @Test func interactiveWatchAndExec() throws {
        let keel = try KeelProcess()
        // `watch -i` reads "watch ..." lines on stdin; stdin stays open while the shell sleeps.
        let interactive = try WatchCommand(keel, shell: "(printf 'watch i1\\nwatch i --prefix\\n'; sleep 60) | ",
                                           ["watch", "-i"])
        try waitForWatchRequests(keel, atLeast: 2)
        #expect(keel.etcdctl(["put", "i1", "one"]).output == "OK\n")
        #expect(keel.etcdctl(["put", "i2", "two"]).output == "OK\n")
        // Each watch prints on its own goroutine, one Println per line, so the two watches'
        // lines may interleave (seen: "PUT PUT i1 one i1 one"); the lines, not the blocks, are
        // what can be checked. (etcdctl complains when the test ends its stdin, and may be
        // killed halfway through that line; the shell reports a kill by its timeout as
        // "Killed". Neither is ours to check, and no event line holds "Error" or "Killed".)
        let output = interactive.waitForOutput(count: 3, of: "PUT\n").components(separatedBy: "Error")[0]
            .replacingOccurrences(of: "Killed\n", with: "")
        let expectedLines = ("PUT\ni1\none\n" + "PUT\ni1\none\n" + "PUT\ni2\ntwo\n").split(separator: "\n")
        #expect(output.hasSuffix("\n") && output.split(separator: "\n").sorted() == expectedLines.sorted(), "\(output)")

        // The exec form runs the command per event with the event in its environment (etcdctl
        // 3.4 quotes the values, Go's %q).
        let exec = try WatchCommand(keel, ["watch", "e", "--", "sh", "-c", "echo got $ETCD_WATCH_KEY=$ETCD_WATCH_VALUE"])
        try waitForWatchRequests(keel, atLeast: 3)
        #expect(keel.etcdctl(["put", "e", "v1"]).output == "OK\n")
        let execExpected = "PUT\ne\nv1\ngot \"e\"=\"v1\"\n"
        #expect(exec.waitForOutput(execExpected) == execExpected)
    }

    @Test func gatewayWatchStreamsEvents() throws {
        let keel = try KeelProcess()
        let start = try currentRevision(keel) + 1
        // "g" = Zw==, "h" = aA== : every key in [g, h).
        let body = #"{"create_request":{"key":"Zw==","range_end":"aA==","start_revision":"\#(start)"}}"#
        let curl = try WatchCommand(keel, curl: body)
        #expect(keel.etcdctl(["put", "g1", "a"]).output == "OK\n")
        #expect(keel.etcdctl(["put", "zz", "outside"]).output == "OK\n")
        #expect(keel.etcdctl(["del", "g1"]).output == "1\n")
        let output = curl.waitForOutput("\"DELETE\"")
        let lines = output.split(separator: "\n").map(String.init)
        let results = try lines.map { line -> [String: Any] in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            return try #require(object["result"] as? [String: Any], "\(line)")
        }
        // The created response, then the two events: in one response each, or in one response
        // together when the watch was established after the writes and caught up from history
        // (as etcd batches an unsynced watcher's events; seen on a loaded machine).
        #expect(results.count == 2 || results.count == 3, "\(output)")
        guard results.count >= 2 else { return }
        #expect(results[0]["created"] as? Bool == true)
        let header = try #require(results[0]["header"] as? [String: Any])
        #expect(header["cluster_id"] as? String != nil && header["member_id"] as? String != nil)
        let events = results.dropFirst().flatMap { ($0["events"] as? [[String: Any]]) ?? [] }
        #expect(events.count == 2, "\(output)")
        guard events.count == 2 else { return }
        #expect(events[0]["type"] == nil)  // PUT is the default enum value, left out
        let kv = try #require(events[0]["kv"] as? [String: Any])
        #expect(kv["key"] as? String == "ZzE=" && kv["value"] as? String == "YQ==" && kv["mod_revision"] as? String == String(start))
        #expect(events[1]["type"] as? String == "DELETE")
        #expect((results.last?["header"] as? [String: Any])?["revision"] as? String == String(start + 2))
    }

    /// --experimental-watch-progress-notify-interval: a progress_notify watcher that sees no
    /// event hears the current revision about once an interval (etcdctl 3.4 cannot ask for
    /// progress notifications, so curl on the gateway does).
    @Test func progressNotifyIntervalFlag() throws {
        let keel = try KeelProcess(["--experimental-watch-progress-notify-interval=500ms"])
        #expect(keel.etcdctl(["put", "p", "1"]).output == "OK\n")  // revision 2
        // "q" = cQ==: a key nobody writes.
        let curl = try WatchCommand(keel, curl: #"{"create_request":{"key":"cQ==","progress_notify":true}}"#)
        // etcd's watch gauges count the stream and its watcher (sampled every 500 ms).
        var gauges: [String] = []
        for _ in 0..<100 {
            gauges = keel.curl("/metrics").output.split(separator: "\n").map(String.init)
                .filter { $0.hasPrefix("etcd_debugging_mvcc_watch") || $0.hasPrefix("etcd_debugging_mvcc_slow_watcher") }
            if gauges.contains("etcd_debugging_mvcc_watcher_total 1") { break }
            usleep(100_000)
        }
        #expect(gauges.sorted() == ["etcd_debugging_mvcc_slow_watcher_total 0", "etcd_debugging_mvcc_watch_stream_total 1",
                                    "etcd_debugging_mvcc_watcher_total 1"], "\(gauges)")
        let output = curl.waitForOutput(count: 3, of: #""revision":"2""#)
        let progress = output.split(separator: "\n").filter { !$0.contains(#""created":true"#) }
        #expect(progress.count >= 2, "\(output)")
        for line in progress {
            #expect(line.contains(#""revision":"2""#) && !line.contains("events"), "\(line)")
        }
    }

    // MARK: Helpers

    private func render(_ events: [(op: String, key: String, value: String)]) -> String {
        events.map { "\($0.op)\n\($0.key)\n\($0.value)\n" }.joined()
    }

    private func currentRevision(_ keel: KeelProcess) throws -> Int64 {
        let output = keel.etcdctl(["get", "nothing-here", "-w", "json"]).output
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let header = try #require(object["header"] as? [String: Any])
        return try #require((header["revision"] as? NSNumber)?.int64Value)
    }

    /// Waits until the server has received `count` Watch request messages (from /metrics).
    private func waitForWatchRequests(_ keel: KeelProcess, atLeast count: Int) throws {
        for _ in 0..<500 {
            let metrics = keel.curl("/metrics").output
            for line in metrics.split(separator: "\n")
            where line.hasPrefix("grpc_server_msg_received_total") && line.contains("grpc_method=\"Watch\"") {
                if let value = line.split(separator: " ").last.flatMap({ Double($0) }), Int(value) >= count {
                    // The create runs right after the count, on the same event loop.
                    usleep(50_000)
                    return
                }
            }
            usleep(20_000)
        }
        Issue.record("the server never received \(count) Watch requests")
    }
}

/// One etcdctl watch (or curl) in the background, its output in a file, killed by `timeout`
/// after 15 s at most or by the test once it has seen what it wanted.
///
/// The test ends it with SIGKILL, to the shell and every process under it, by pid: the test
/// runner's children inherit a signal mask that may block SIGTERM, which neither the shell
/// nor etcdctl (Go keeps the inherited mask) would then act on.
final class WatchCommand: @unchecked Sendable {
    let process: BackgroundProcess
    let outputPath: String
    private let directory: TemporaryDirectory

    /// `etcdctl <arguments>` against `keel`, optionally fed by a shell `prefix` ("… | ").
    convenience init(_ keel: KeelProcess, shell prefix: String = "", _ arguments: [String]) throws {
        try self.init(endpoint: keel.endpoint, shell: prefix, arguments)
    }

    /// `etcdctl <arguments>` against the member at `endpoint` (host:port).
    convenience init(endpoint: String, shell prefix: String = "", _ arguments: [String]) throws {
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        try self.init(command: prefix + "exec timeout -s KILL 60 \(KeelProcess.etcdctlPath) --endpoints=\(endpoint) \(quoted)")
    }

    /// curl posting `body` to /v3/watch, its response body streamed to the file.
    convenience init(_ keel: KeelProcess, curl body: String) throws {
        try self.init(command: "exec \(KeelProcess.curlPath) -s -N --max-time 60 -X POST -d '\(body)' http://\(keel.endpoint)/v3/watch")
    }

    private init(command: String) throws {
        directory = TemporaryDirectory("keel-watch")
        outputPath = directory.path + "/output"
        process = BackgroundProcess("/bin/sh", ["-c", command], environment: ["ETCDCTL_API=3", "PATH=/usr/bin:/bin"],
                                    logPath: outputPath)
    }

    /// Polls the output until `piece` occurs `count` times, then as `waitForOutput(_:)`.
    func waitForOutput(count: Int, of piece: String) -> String {
        for _ in 0..<4500 where process.log.components(separatedBy: piece).count - 1 < count { usleep(10_000) }
        usleep(200_000)
        stop()
        return process.log
    }

    /// Polls the output until it contains `expected` (or `exitAfter`: until the process ended),
    /// at most 45 s; then ends the process and returns everything it printed.
    func waitForOutput(_ expected: String, exitAfter: Bool = false) -> String {
        for _ in 0..<4500 {
            if exitAfter ? process.hasExited : process.log.contains(expected) { break }
            usleep(10_000)
        }
        // A little longer, so an extra event after the expected ones would show.
        if !exitAfter { usleep(200_000) }
        stop()
        return process.log
    }

    /// Kills the shell's descendants (deepest first), then the shell.
    func stop() {
        guard !process.hasExited else { return }
        for pid in Self.descendants(of: process.pid).reversed() { kill(pid, SIGKILL) }
        process.stop(signal: SIGKILL)
    }

    private static func descendants(of pid: pid_t) -> [pid_t] {
        let path = "/proc/\(pid)/task/\(pid)/children"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let children = text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return children.flatMap { [$0] + descendants(of: $0) }
    }

    deinit {
        stop()
        directory.remove()
    }
}

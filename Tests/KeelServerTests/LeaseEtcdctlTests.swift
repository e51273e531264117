#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelTestSupport
import Testing

/// The real etcdctl 3.4 and curl against a real keel process: leases granted, attached to
/// keys, kept alive, inspected, listed, revoked, expired, and kept across restarts.
@Suite struct LeaseEtcdctlTests {
    @Test func grantAttachInspectListRevoke() throws {
        let keel = try KeelProcess()
        let id = try grant(keel, ttl: 10)
        #expect(keel.etcdctl(["put", "--lease=\(id)", "k2", "v2"]).output == "OK\n")
        #expect(keel.etcdctl(["put", "--lease=\(id)", "k1", "v1"]).output == "OK\n")
        let ttl = keel.etcdctl(["lease", "timetolive", id, "--keys"]).output
        #expect(ttl.hasPrefix("lease \(id) granted with TTL(10s), remaining(") && ttl.hasSuffix("s), attached keys([k1 k2])\n"), "\(ttl)")
        let bare = keel.etcdctl(["lease", "timetolive", id]).output
        #expect(bare.hasPrefix("lease \(id) granted with TTL(10s), remaining(") && !bare.contains("attached"), "\(bare)")
        // The key carries the lease (etcdctl prints it in decimal).
        let get = keel.etcdctl(["get", "k1", "-w", "json"]).output
        #expect(get.contains("\"lease\":\(Int64(id, radix: 16)!)"), "\(get)")

        let second = try grant(keel, ttl: 20)
        let list = keel.etcdctl(["lease", "list"]).output
        let expected = [id, second].sorted { Int64($0, radix: 16)! < Int64($1, radix: 16)! }
        #expect(list == "found 2 leases\n" + expected.map { $0 + "\n" }.joined(), "\(list)")

        #expect(keel.etcdctl(["lease", "revoke", id]).output == "lease \(id) revoked\n")
        #expect(keel.etcdctl(["get", "k", "--prefix"]).output == "")
        #expect(keel.etcdctl(["lease", "timetolive", id]).output == "lease \(id) already expired\n")
        #expect(keel.etcdctl(["lease", "list"]).output == "found 1 leases\n\(second)\n")
    }

    /// The leader checkpoints remaining TTLs through the log (every second here), so a kill -9
    /// and restart resume a lease where it was; with checkpoints off, as in etcd 3.5 by
    /// default, the restart renews the lease to its full TTL.
    @Test(arguments: [true, false]) func checkpointedTTLSurvivesRestart(checkpoints: Bool) throws {
        let keel = try KeelProcess(["--lease-checkpoint-interval=1s", "--experimental-enable-lease-checkpoint=\(checkpoints)"])
        let id = try grant(keel, ttl: 60)
        sleep(6)
        keel.kill()
        try keel.start()
        let output = keel.etcdctl(["lease", "timetolive", id]).output
        let remaining = try #require(output.split(separator: "remaining(").last?.split(separator: "s").first.flatMap { Int($0) }, "\(output)")
        if checkpoints {
            // Checkpointed at least 4.5 s after the grant: at most 55.5 s were left.
            #expect(remaining <= 56, "\(output)")
        } else {
            #expect(remaining >= 57, "\(output)")
        }
    }

    @Test func unknownLeasesAndTTLRules() throws {
        let keel = try KeelProcess()
        let revoke = keel.etcdctl(["lease", "revoke", "1234abcd"])
        #expect(revoke.exitStatus != 0 && revoke.output.contains("etcdserver: requested lease not found"), "\(revoke.output)")
        let put = keel.etcdctl(["put", "--lease=1234abcd", "k", "v"])
        #expect(put.exitStatus != 0 && put.output.contains("etcdserver: requested lease not found"), "\(put.output)")
        #expect(keel.etcdctl(["lease", "timetolive", "1234abcd"]).output == "lease 000000001234abcd already expired\n")
        // A keepalive of a missing lease is answered with TTL 0, which the client reads as gone.
        let keepAlive = try bounded(keel, ["lease", "keep-alive", "1234abcd"], name: "keepalive")
        #expect(keepAlive == "lease 000000001234abcd expired or revoked.\n", "\(keepAlive)")
        let once = try bounded(keel, ["lease", "keep-alive", "--once", "1234abcd"], name: "once")
        #expect(once.contains("etcdserver: requested lease not found"), "\(once)")
        // A TTL below the minimum (1.5 election timeouts, rounded up: 2 s) is raised to it.
        let short = keel.etcdctl(["lease", "grant", "1"]).output
        #expect(short.hasSuffix("granted with TTL(2s)\n"), "\(short)")
        let large = keel.etcdctl(["lease", "grant", "9000000001"])
        #expect(large.exitStatus != 0 && large.output.contains("etcdserver: too large lease TTL"), "\(large.output)")
    }

    @Test func gatewayGrantTimeToLiveLeasesRevoke() throws {
        let keel = try KeelProcess()
        let granted = try object(keel.curl("/v3/lease/grant", body: #"{"TTL":20}"#))
        let id = try #require(granted["ID"] as? String)
        #expect(Int64(id) ?? 0 > 0 && granted["TTL"] as? String == "20", "\(granted)")
        try expectHeader(granted)
        // "a" = YQ==
        #expect(keel.etcdctl(["put", "--lease=\(String(Int64(id)!, radix: 16))", "a", "1"]).output == "OK\n")
        let ttl = try object(keel.curl("/v3/lease/timetolive", body: #"{"ID":\#(id),"keys":true}"#))
        #expect(ttl["ID"] as? String == id && ttl["grantedTTL"] as? String == "20", "\(ttl)")
        #expect((ttl["keys"] as? [String]) == ["YQ=="] && Int(ttl["TTL"] as? String ?? "") ?? 0 > 0, "\(ttl)")
        try expectHeader(ttl)
        // The streaming keepalive route answers one {"result":...} line per request.
        let kept = try object(keel.curl("/v3/lease/keepalive", body: #"{"ID":\#(id)}"#))
        let result = try #require(kept["result"] as? [String: Any], "\(kept)")
        #expect(result["TTL"] as? String == "20" && result["ID"] as? String == String(id), "\(result)")
        let missing = try object(keel.curl("/v3/lease/timetolive", body: #"{"ID":42}"#))
        #expect(missing["ID"] as? String == "42" && missing["TTL"] as? String == "-1", "\(missing)")
        try expectHeader(missing)

        let chosen = try object(keel.curl("/v3/lease/grant", body: #"{"TTL":30,"ID":7}"#))
        #expect(chosen["ID"] as? String == "7" && chosen["TTL"] as? String == "30", "\(chosen)")
        let again = try object(keel.curl("/v3/lease/grant", body: #"{"TTL":30,"ID":7}"#))
        #expect(again["message"] as? String == "etcdserver: lease already exists" && again["code"] as? Int == 9, "\(again)")
        let leases = try object(keel.curl("/v3/lease/leases", body: "{}"))
        let ids = (leases["leases"] as? [[String: Any]] ?? []).compactMap { $0["ID"] as? String }
        #expect(Set(ids) == [id, "7"], "\(leases)")
        try expectHeader(leases)

        let revoked = try object(keel.curl("/v3/lease/revoke", body: #"{"ID":\#(id)}"#))
        try expectHeader(revoked)
        #expect(keel.etcdctl(["get", "a"]).output == "")
        let alias = try object(keel.curl("/v3/kv/lease/revoke", body: #"{"ID":7}"#))
        try expectHeader(alias)
        let gone = try object(keel.curl("/v3/lease/revoke", body: #"{"ID":7}"#))
        #expect(gone["message"] as? String == "etcdserver: requested lease not found" && gone["code"] as? Int == 5, "\(gone)")
    }

    // MARK: Helpers

    private func grant(_ keel: KeelProcess, ttl: Int) throws -> String { try keel.grantLease(ttl: ttl) }

    /// Runs etcdctl (for commands without a timeout of their own) and returns its output once it
    /// exits by itself; fails if it runs for more than 10 s.
    private func bounded(_ keel: KeelProcess, _ arguments: [String], name: String) throws -> String {
        let process = BackgroundProcess(
            KeelProcess.etcdctlPath, ["--endpoints=\(keel.endpoint)"] + arguments,
            environment: ["ETCDCTL_API=3", "PATH=/usr/bin:/bin"], logPath: keel.directory.path + "/\(name).log")
        for _ in 0..<100 where !process.hasExited { usleep(100_000) }
        try #require(process.hasExited, "etcdctl \(arguments) did not exit: \(process.log)")
        return process.log
    }

    private func expectHeader(_ response: [String: Any]) throws {
        let header = try #require(response["header"] as? [String: Any], "\(response)")
        for field in ["cluster_id", "member_id", "revision", "raft_term"] {
            #expect(header[field] as? String != nil, "header without \(field): \(header)")
        }
    }

    private func object(_ outcome: Subprocess.Outcome) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(outcome.output.utf8))
        return try #require(object as? [String: Any], "\(outcome.output)")
    }
}

extension KeelProcess {
    /// Grants a lease with etcdctl and returns its id as etcdctl prints it (16 hex digits).
    func grantLease(ttl: Int) throws -> String {
        let output = etcdctl(["lease", "grant", String(ttl)]).output
        let words = output.split(separator: " ")
        try #require(words.count == 5 && words[0] == "lease" && output.hasSuffix("granted with TTL(\(ttl)s)\n"), "\(output)")
        let id = String(words[1])
        try #require(id.count == 16 && Int64(id, radix: 16) != nil, "\(output)")
        return id
    }

    /// Polls (every 100 ms) until `key` is gone; false once a read that started after
    /// `deadline` (on `MonotonicSeconds`) still found it. A slow etcdctl does not count against
    /// the key: only a read begun past the deadline does.
    func waitUntilGone(_ key: String, until deadline: Double) -> Bool {
        while true {
            let started = MonotonicSeconds.now
            if etcdctl(["get", key]).output == "" { return true }
            if started > deadline { return false }
            usleep(100_000)
        }
    }
}

/// The monotonic clock in seconds, for bounded polls.
enum MonotonicSeconds {
    static var now: Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

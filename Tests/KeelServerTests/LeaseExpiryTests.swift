#if canImport(Glibc)
import Glibc
#endif
import KeelTestSupport
import Testing

/// Leases running out on a real keel process, driven by the real etcdctl 3.4: keys vanish
/// once their lease expires, keepalives hold a lease, and a restart (clean or kill -9) keeps
/// a lease and its keys, which still expire afterwards.
@Suite struct LeaseExpiryTests {
    @Test func keysVanishWhenTheLeaseExpires() throws {
        let keel = try KeelProcess()
        let id = try keel.grantLease(ttl: 3)
        #expect(keel.etcdctl(["put", "--lease=\(id)", "short", "lived"]).output == "OK\n")
        let putAt = MonotonicSeconds.now
        #expect(keel.etcdctl(["get", "short", "--print-value-only"]).output == "lived\n")
        // Gone within TTL + 1 s of the put (the lease was granted before it).
        #expect(keel.waitUntilGone("short", until: putAt + 3 + 1), "the key outlived its lease")
        #expect(keel.etcdctl(["lease", "timetolive", id]).output == "lease \(id) already expired\n")
        #expect(keel.etcdctl(["lease", "list"]).output == "found 0 leases\n")
    }

    @Test func keepAliveHoldsTheLeaseUntilItStops() throws {
        let keel = try KeelProcess()
        let id = try keel.grantLease(ttl: 3)
        #expect(keel.etcdctl(["put", "--lease=\(id)", "held", "v"]).output == "OK\n")
        let keepAlive = BackgroundProcess(
            KeelProcess.etcdctlPath, ["--endpoints=\(keel.endpoint)", "lease", "keep-alive", id],
            environment: ["ETCDCTL_API=3", "PATH=/usr/bin:/bin"], logPath: keel.directory.path + "/keepalive.log")
        // One and a half TTLs: without renewals the key would be gone by then.
        usleep(4_500_000)
        #expect(keel.etcdctl(["get", "held", "--print-value-only"]).output == "v\n")
        let ttl = keel.etcdctl(["lease", "timetolive", id]).output
        #expect(ttl.hasPrefix("lease \(id) granted with TTL(3s)"), "\(ttl)")
        _ = keepAlive.stop(signal: SIGTERM)
        let lines = keepAlive.log.split(separator: "\n").filter { $0.hasPrefix("lease ") }
        // etcd's client renews every third of the TTL: about four renewals by now.
        #expect(lines.count >= 3 && lines.allSatisfy { $0 == "lease \(id) keepalived with TTL(3)" }, "\(keepAlive.log)")
        let stoppedAt = MonotonicSeconds.now
        #expect(keel.waitUntilGone("held", until: stoppedAt + 3 + 1), "the key outlived its lease after the keepalives stopped")
    }

    @Test(arguments: [SIGTERM, SIGKILL])
    func aRestartKeepsTheLeaseAndItStillExpires(signal: Int32) throws {
        let keel = try KeelProcess()
        let id = try keel.grantLease(ttl: 3)
        #expect(keel.etcdctl(["put", "--lease=\(id)", "kept", "v"]).output == "OK\n")
        if signal == SIGKILL { keel.kill() } else { #expect(keel.stop() == 0) }
        try keel.start()
        let restartedAt = MonotonicSeconds.now
        #expect(keel.etcdctl(["get", "kept", "--print-value-only"]).output == "v\n")
        let ttl = keel.etcdctl(["lease", "timetolive", id, "--keys"]).output
        #expect(ttl.hasPrefix("lease \(id) granted with TTL(3s)") && ttl.hasSuffix("attached keys([kept])\n"), "\(ttl)")
        #expect(keel.etcdctl(["lease", "list"]).output == "found 1 leases\n\(id)\n")
        // A new leader restarts the countdown from the TTL plus one election timeout (1 s).
        #expect(keel.waitUntilGone("kept", until: restartedAt + 3 + 1 + 1), "the key outlived its lease after a restart")
    }
}

import Foundation
import KeelTestSupport
import Testing

/// etcdctl's lease commands against one member of a ``KeelCluster``.
extension KeelCluster {
    /// Grants a lease through member `index`; returns its id as etcdctl prints it (16 hex digits).
    func grantLease(_ index: Int, ttl: Int) throws -> String {
        let output = etcdctl(index, ["lease", "grant", String(ttl)]).output
        let words = output.split(separator: " ")
        try #require(words.count == 5 && words[0] == "lease" && output.hasSuffix("granted with TTL(\(ttl)s)\n"), "member \(index): \(output)")
        let id = String(words[1])
        try #require(id.count == 16 && Int64(id, radix: 16) != nil, "\(output)")
        return id
    }

    /// One keepalive of lease `id` through member `index` (`lease keep-alive --once`).
    func keepAliveOnce(_ index: Int, _ id: String) -> Subprocess.Outcome {
        boundedEtcdctl(index, ["lease", "keep-alive", "--once", id])
    }

    /// etcdctl against member `index`, killed after `seconds` (exit status 124): etcdctl 3.4
    /// retries a TimeToLive answered "request timed out" for as long as it gets that answer,
    /// past its --command-timeout, so a member that never reaches the leader would hang a test.
    func boundedEtcdctl(_ index: Int, _ arguments: [String], seconds: Int = 20) -> Subprocess.Outcome {
        Subprocess.run("/usr/bin/timeout", [String(seconds), KeelProcess.etcdctlPath, "--endpoints=\(members[index].endpoint)",
                                            "--command-timeout=10s"] + arguments,
                       environment: ["ETCDCTL_API=3", "PATH=/usr/bin:/bin"])
    }

    /// The remaining TTL of lease `id` that member `index` answers (`lease timetolive`); nil
    /// when etcdctl says it expired (or prints anything else, which `output` holds).
    func remainingTTL(_ index: Int, _ id: String) -> (seconds: Int?, output: String) {
        let output = boundedEtcdctl(index, ["lease", "timetolive", id]).output
        let seconds = output.split(separator: "remaining(").last.flatMap { $0.split(separator: "s").first }.flatMap { Int($0) }
        return (output.hasPrefix("lease \(id) granted with") ? seconds : nil, output)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelTestSupport

/// Real `keel` processes forming one cluster on free loopback ports (member names "m0",
/// "m1", ...), each with its data and log in a directory of its own, for tests that drive them
/// with the real etcdctl.
final class KeelCluster: @unchecked Sendable {
    struct Member {
        let name: String
        var clientPort: Int
        var peerPort: Int
        var process: BackgroundProcess?
        var endpoint: String { "127.0.0.1:\(clientPort)" }
        var peerURL: String { "http://127.0.0.1:\(peerPort)" }
    }

    let directory: TemporaryDirectory
    private(set) var members: [Member]
    let extraArguments: [String]

    /// Starts `size` members at once and waits until every one logs that it serves clients
    /// (which needs a leader, so a quorum). A start that fails on an address in use (a free
    /// port taken meanwhile) is retried on new ports, up to three times.
    init(size: Int = 3, extraArguments: [String] = []) throws {
        directory = TemporaryDirectory("keel-cluster")
        members = (0..<size).map { Member(name: "m\($0)", clientPort: freeLoopbackPort(), peerPort: freeLoopbackPort()) }
        self.extraArguments = extraArguments
        try retryingTakenPorts({
            for index in members.indices { launch(index) }
            for index in members.indices { try waitUntilReady(index, readyLinesBefore: 0) }
        }, newPorts: {
            for index in members.indices {
                members[index].process?.stop(signal: SIGKILL)
                members[index].process = nil
                members[index].clientPort = freeLoopbackPort()
                members[index].peerPort = freeLoopbackPort()
            }
            for index in members.indices {
                TemporaryDirectory.removeTree(dataDirectory(index))
                TemporaryDirectory.removeTree(logPath(index))
            }
        })
    }

    var initialCluster: String { members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",") }
    /// Every member's client endpoint, comma-separated (etcdctl's --endpoints).
    var endpoints: String { members.map(\.endpoint).joined(separator: ",") }

    func dataDirectory(_ index: Int) -> String { directory.path + "/" + members[index].name }
    func logPath(_ index: Int) -> String { directory.path + "/" + members[index].name + ".log" }

    func arguments(_ index: Int) -> [String] {
        let member = members[index]
        return ["--name", member.name, "--data-dir", dataDirectory(index),
                "--listen-client-urls", "http://\(member.endpoint)", "--advertise-client-urls", "http://\(member.endpoint)",
                "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
                "--initial-cluster", initialCluster, "--initial-cluster-token", "keel-cluster-test"] + extraArguments
    }

    private func launch(_ index: Int) {
        members[index].process = BackgroundProcess(KeelProcess.binaryPath, arguments(index), environment: ["PATH=/usr/bin:/bin"],
                                                   logPath: logPath(index))
    }

    private func readyLines(_ index: Int) -> Int { log(index).components(separatedBy: "ready to serve client requests").count - 1 }

    /// Waits (at most 60 s) until member `index` logs that it serves clients once more than
    /// `readyLinesBefore` times.
    private func waitUntilReady(_ index: Int, readyLinesBefore: Int) throws {
        try members[index].process?.waitUntilServing(readyLinesBefore: readyLinesBefore)
    }

    /// Restarts a stopped member on its data and ports and waits until it serves clients.
    func restart(_ index: Int) throws {
        let before = readyLines(index)
        launch(index)
        try waitUntilReady(index, readyLinesBefore: before)
    }

    /// SIGKILL: a crash, nothing flushed.
    func kill(_ index: Int) {
        members[index].process?.stop(signal: SIGKILL)
        members[index].process = nil
    }

    func log(_ index: Int) -> String {
        guard let text = try? String(contentsOfFile: logPath(index), encoding: .utf8) else { return "" }
        return text
    }

    /// Runs etcdctl (API v3) against member `index` only.
    func etcdctl(_ index: Int, _ arguments: [String]) -> Subprocess.Outcome {
        Subprocess.run(KeelProcess.etcdctlPath, ["--endpoints=\(members[index].endpoint)", "--command-timeout=10s"] + arguments,
                       environment: ["ETCDCTL_API=3", "PATH=/usr/bin:/bin"])
    }

    /// What member `index` says of itself in `endpoint status`: its id and the leader it
    /// knows (0: none); nil when it does not answer.
    func status(_ index: Int) -> (member: UInt64, leader: UInt64, raftTerm: UInt64)? {
        let outcome = etcdctl(index, ["endpoint", "status", "-w", "json"])
        guard outcome.exitStatus == 0,
              let list = try? JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [[String: Any]],
              let status = list.first?["Status"] as? [String: Any],
              let header = status["header"] as? [String: Any],
              let member = (header["member_id"] as? NSNumber)?.uint64Value else { return nil }
        let leader = (status["leader"] as? NSNumber)?.uint64Value ?? 0
        return (member, leader, (status["raftTerm"] as? NSNumber)?.uint64Value ?? 0)
    }

    /// Waits (at most `seconds`) until every member in `among` names the same leader, one of
    /// them and not `excluding`; returns the leader's index.
    func waitForLeader(among: [Int], excluding: UInt64 = 0, seconds: Double = 15) -> Int? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let statuses = among.map { (index: $0, status: status($0)) }
            if statuses.allSatisfy({ $0.status != nil }) {
                let leaders = Set(statuses.map { $0.status!.leader })
                if leaders.count == 1, let leader = leaders.first, leader != 0, leader != excluding,
                   let index = statuses.first(where: { $0.status!.member == leader })?.index {
                    return index
                }
            }
            usleep(100_000)
        }
        return nil
    }

    /// Polls `condition` every 100 ms (each poll may run etcdctl) for at most `seconds`; true
    /// once it holds.
    func eventually(seconds: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }

    deinit {
        for member in members { member.process?.stop(signal: SIGKILL) }
        directory.remove()
    }
}

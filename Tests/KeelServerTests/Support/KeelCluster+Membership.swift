#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelTestSupport

/// One member as `etcdctl member list -w json` shows it.
struct ListedMember: Equatable, CustomStringConvertible {
    var id: UInt64
    var name: String
    var peerURLs: [String]
    var clientURLs: [String]
    var isLearner: Bool

    var description: String { "\(String(id, radix: 16)) \(name.isEmpty ? "(unstarted)" : name) peers=\(peerURLs) clients=\(clientURLs)\(isLearner ? " learner" : "")" }
}

/// A keel process that joins a running `KeelCluster` after `etcdctl member add`, started with
/// --initial-cluster-state existing on a data directory of its own.
final class JoiningMember: @unchecked Sendable {
    let name: String
    let clientPort = freeLoopbackPort()
    let peerPort = freeLoopbackPort()
    let dataDirectory: String
    let logPath: String
    private(set) var process: BackgroundProcess?

    var endpoint: String { "127.0.0.1:\(clientPort)" }
    var peerURL: String { "http://127.0.0.1:\(peerPort)" }

    init(name: String, in cluster: KeelCluster) {
        self.name = name
        dataDirectory = cluster.directory.path + "/" + name
        logPath = cluster.directory.path + "/" + name + ".log"
    }

    /// Starts it with the cluster's members (those not removed, `current`) and itself in
    /// --initial-cluster, and waits until it serves clients (it has caught up with what was
    /// committed when it found the leader, and published its name).
    func start(joining cluster: KeelCluster, current: [Int]) throws {
        let initial = current.map { "\(cluster.members[$0].name)=\(cluster.members[$0].peerURL)" } + ["\(name)=\(peerURL)"]
        process = BackgroundProcess(KeelProcess.binaryPath, [
            "--name", name, "--data-dir", dataDirectory,
            "--listen-client-urls", "http://\(endpoint)", "--advertise-client-urls", "http://\(endpoint)",
            "--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
            "--initial-cluster", initial.joined(separator: ","), "--initial-cluster-state", "existing",
            "--initial-cluster-token", "keel-cluster-test"], environment: ["PATH=/usr/bin:/bin"], logPath: logPath)
        try process!.waitUntilServing(readyLinesBefore: 0)
    }

    func etcdctl(_ arguments: [String]) -> Subprocess.Outcome {
        Subprocess.run(KeelProcess.etcdctlPath, ["--endpoints=\(endpoint)", "--command-timeout=10s"] + arguments,
                       environment: ["ETCDCTL_API=3", "PATH=/usr/bin:/bin"])
    }

    deinit { process?.stop(signal: SIGKILL) }
}

extension KeelCluster {
    /// `etcdctl member list -w json` through member `index`, or nil when it fails.
    func memberList(_ index: Int) -> [ListedMember]? {
        Self.parseMemberList(etcdctl(index, ["member", "list", "-w", "json"]).output)
    }

    static func parseMemberList(_ json: String) -> [ListedMember]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let members = object["members"] as? [[String: Any]] else { return nil }
        return members.map { member in
            ListedMember(id: (member["ID"] as? NSNumber)?.uint64Value ?? 0, name: member["name"] as? String ?? "",
                         peerURLs: member["peerURLs"] as? [String] ?? [], clientURLs: member["clientURLs"] as? [String] ?? [],
                         isLearner: (member["isLearner"] as? Bool) ?? false)
        }.sorted { $0.id < $1.id }
    }

    /// The id etcdctl printed for a member it added ("Member <hex> added to cluster ...").
    static func addedMemberID(_ output: String) -> UInt64? {
        // etcdctl pads the id to 16 characters with spaces.
        guard let range = output.range(of: #"Member +[0-9a-f]+ added"#, options: .regularExpression) else { return nil }
        return UInt64(output[range].split(separator: " ")[1], radix: 16)
    }

    /// Member `index`'s own id (from `endpoint status`).
    func memberID(_ index: Int) -> UInt64? { status(index)?.member }
}

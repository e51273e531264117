#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelTestSupport
import Testing

/// What the snapshot catch-up tests read from the members of a `KeelCluster`.
extension KeelCluster {
    /// How many times member `index` has logged `line` (its log spans its restarts).
    func count(_ line: String, inLogOf index: Int) -> Int { log(index).components(separatedBy: line).count - 1 }

    /// Runs keel-bench `arguments` against member `index`; fails the test unless it succeeded.
    func bench(_ index: Int, _ arguments: [String]) {
        let outcome = Subprocess.run(KeelProcess.builtBinary("keel-bench"), arguments + ["--endpoints", members[index].endpoint],
                                     environment: ["PATH=/usr/bin:/bin"])
        #expect(outcome.exitStatus == 0, "keel-bench \(arguments): \(outcome.output)")
    }

    /// Member `index`'s whole key space as served locally (serializable): its revision and
    /// every key-value in JSON (lease ids, create/mod revisions and versions included).
    func keySpace(_ index: Int) -> (revision: Int, kvs: String)? {
        let outcome = etcdctl(index, ["get", "", "--from-key", "--consistency=s", "-w", "json"])
        guard outcome.exitStatus == 0,
              let object = try? JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [String: Any],
              let header = object["header"] as? [String: Any], let revision = header["revision"] as? Int else { return nil }
        let kvs = (object["kvs"] as? [Any]) ?? []
        guard let data = try? JSONSerialization.data(withJSONObject: kvs, options: [.sortedKeys]) else { return nil }
        return (revision, String(decoding: data, as: UTF8.self))
    }

    /// Member `index`'s `endpoint hashkv`: the hash of its key space and its compact revision.
    func hashKV(_ index: Int) -> (hash: Int, compactRevision: Int)? {
        let outcome = etcdctl(index, ["endpoint", "hashkv", "-w", "json"])
        guard let list = try? JSONSerialization.jsonObject(with: Data(outcome.output.utf8)) as? [[String: Any]],
              let body = list.first?["HashKV"] as? [String: Any], let hash = body["hash"] as? Int else { return nil }
        return (hash, body["compact_revision"] as? Int ?? 0)
    }

    /// The lease ids member `index` lists, sorted.
    func leases(_ index: Int) -> [String] {
        etcdctl(index, ["lease", "list"]).output.split(separator: "\n").dropFirst().map { String($0) }.sorted()
    }
}

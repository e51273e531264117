import Foundation
import KeelTestSupport
import Testing

/// etcdctl's maintenance and cluster commands against a real keel process.
@Suite struct EtcdctlMaintenanceTests {
    @Test func statusHealthHashDefragSnapshot() throws {
        let keel = try KeelProcess()
        for i in 0..<200 { _ = keel.etcdctl(["put", "key\(i % 20)", String(repeating: "v", count: 100 + i)]) }
        let status = try json(keel.etcdctl(["endpoint", "status", "-w", "json"]))
        let entry = try #require(status.first)
        let statusBody = try #require(entry["Status"] as? [String: Any])
        let header = try #require(statusBody["header"] as? [String: Any])
        #expect(statusBody["leader"] as? UInt64 == header["member_id"] as? UInt64)
        #expect((statusBody["dbSize"] as? Int ?? 0) > 0)
        #expect(statusBody["version"] as? String == "3.5.0")
        #expect((statusBody["raftIndex"] as? Int ?? 0) >= 200)
        #expect((statusBody["raft_term"] as? Int ?? 0) >= 1 || (header["raft_term"] as? Int ?? 0) >= 1)

        let health = keel.etcdctl(["endpoint", "health"])
        #expect(health.exitStatus == 0 && health.output.contains("is healthy: successfully committed proposal"), "\(health.output)")

        let hashBefore = try json(keel.etcdctl(["endpoint", "hashkv", "-w", "json"]))
        let hash = try #require((hashBefore.first?["HashKV"] as? [String: Any])?["hash"] as? Int)
        #expect(hash != 0)

        let defrag = keel.etcdctl(["defrag"])
        #expect(defrag.exitStatus == 0 && defrag.output.contains("Finished defragmenting etcd member[\(keel.endpoint)]"), "\(defrag.output)")
        // Defragmenting changes the file, not the key space.
        let hashAfter = try json(keel.etcdctl(["endpoint", "hashkv", "-w", "json"]))
        #expect((hashAfter.first?["HashKV"] as? [String: Any])?["hash"] as? Int == hash)
        #expect(keel.etcdctl(["get", "key7"]).output.hasPrefix("key7\n"))

        let snapshotPath = keel.directory.path + "/saved.db"
        let saved = keel.etcdctl(["snapshot", "save", snapshotPath])
        #expect(saved.exitStatus == 0 && saved.output.contains("Snapshot saved at \(snapshotPath)"), "\(saved.output)")
        var info = stat()
        #expect(stat(snapshotPath, &info) == 0 && info.st_size > 4096)

        let members = keel.etcdctl(["member", "list"])
        #expect(members.output.contains(", started, test, http://127.0.0.1:\(keel.peerPort), http://\(keel.endpoint), false"), "\(members.output)")
        let move = keel.etcdctl(["move-leader", "1234"])
        #expect(move.exitStatus != 0 && move.output.contains("etcdserver: bad leader transferee"), "\(move.output)")
        let remove = keel.etcdctl(["member", "remove", "1234"])
        #expect(remove.exitStatus != 0 && remove.output.contains("etcdserver: member not found"), "\(remove.output)")
    }

    @Test func spaceQuotaRaisesAlarmUntilDisarmed() throws {
        // The backend file starts at one 16 MiB growth chunk; 512 KiB values (given on stdin,
        // as etcdctl reads a value it is not given) pass a 20 MB quota within a few dozen puts.
        let keel = try KeelProcess(["--quota-backend-bytes", "20000000"])
        let big = String(repeating: "x", count: 512 * 1024)
        var refused: Subprocess.Outcome?
        for i in 0..<100 {
            let put = keel.etcdctl(["put", "big\(i % 8)"], input: big)
            if put.exitStatus != 0 {
                refused = put
                break
            }
        }
        let refusal = try #require(refused, "the quota was never reached")
        #expect(refusal.output.contains("etcdserver: mvcc: database space exceeded"), "\(refusal.output)")
        #expect(keel.etcdctl(["alarm", "list"]).output.contains("alarm:NOSPACE"))
        // Deletes still go through; puts do not, until the alarm is disarmed.
        #expect(keel.etcdctl(["del", "big", "--prefix"]).exitStatus == 0)
        #expect(keel.etcdctl(["put", "small", "v"]).output.contains("database space exceeded"))
        let health = keel.curl("/health")
        #expect(health.output.contains("\"health\":\"false\"") && health.output.contains("ALARM NOSPACE"), "\(health.output)")
        let revision = try #require(try revision(keel))
        #expect(keel.etcdctl(["compaction", String(revision)]).exitStatus == 0)
        #expect(keel.etcdctl(["defrag"]).exitStatus == 0)
        let disarm = keel.etcdctl(["alarm", "disarm"])
        #expect(disarm.exitStatus == 0 && disarm.output.contains("alarm:NOSPACE"), "\(disarm.output)")
        #expect(keel.etcdctl(["alarm", "list"]).output == "")
        #expect(keel.etcdctl(["put", "small", "v"]).output == "OK\n")
    }

    @Test func killDuringPutsLosesNothingAcknowledged() throws {
        let keel = try KeelProcess()
        // Writers run etcdctl put in a loop; the member is killed under them.
        let acknowledged = Acknowledged()
        let writers = (0..<3).map { writer in
            Thread {
                for i in 0..<10_000 {
                    let key = "w\(writer)-\(i)"
                    let put = keel.etcdctl(["put", key, "value-\(i)"])
                    guard put.exitStatus == 0 && put.output == "OK\n" else { return }
                    acknowledged.add(key)
                }
            }
        }
        writers.forEach { $0.start() }
        while acknowledged.count < 60 { usleep(20_000) }
        keel.kill()
        while writers.contains(where: { !$0.isFinished }) { usleep(20_000) }
        try keel.start()
        let keys = acknowledged.all
        #expect(keys.count >= 60)
        let stored = Set(keel.etcdctl(["get", "w", "--prefix", "--keys-only"]).output.split(separator: "\n").map(String.init))
        let lost = keys.filter { !stored.contains($0) }
        #expect(lost.isEmpty, "acknowledged puts lost after kill -9: \(lost.prefix(10))")
    }

    private func revision(_ keel: KeelProcess) throws -> Int? {
        let object = try JSONSerialization.jsonObject(with: Data(keel.etcdctl(["get", "x", "-w", "json"]).output.utf8))
        return ((object as? [String: Any])?["header"] as? [String: Any])?["revision"] as? Int
    }

    private func json(_ outcome: Subprocess.Outcome) throws -> [[String: Any]] {
        let object = try JSONSerialization.jsonObject(with: Data(outcome.output.utf8))
        return try #require(object as? [[String: Any]], "\(outcome.output)")
    }
}

/// Keys whose put etcdctl reported OK, from several writer threads.
final class Acknowledged: @unchecked Sendable {
    private let lock = NSLock()
    private var keys: [String] = []
    func add(_ key: String) { lock.withLock { keys.append(key) } }
    var count: Int { lock.withLock { keys.count } }
    var all: [String] { lock.withLock { keys } }
}

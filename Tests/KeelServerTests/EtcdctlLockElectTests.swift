#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelTestSupport
import Testing

/// etcdctl's client-side recipes, built on leases, txns and watch: `lock` and `elect`.
@Suite struct EtcdctlLockElectTests {
    /// Two contenders for one lock: the second runs its command only after the first's ended.
    @Test func lockGivesMutualExclusionAndPassesOn() throws {
        let keel = try KeelProcess()
        let stamp = "date +%s%N"
        let first = keel.backgroundEtcdctl(["lock", "the-lock", "--", "sh", "-c", "echo A-start $(\(stamp)); sleep 2; echo A-end $(\(stamp))"], log: "lock-a.log")
        try Self.waitFor("A-start", in: first)
        let second = keel.backgroundEtcdctl(["lock", "the-lock", "--", "sh", "-c", "echo B-start $(\(stamp)); echo B-end $(\(stamp))"], log: "lock-b.log")
        #expect(first.waitForExit(within: 20) == 0)
        #expect(second.waitForExit(within: 20) == 0, "the second contender never got the lock")
        let a = Self.stamps(first.log), b = Self.stamps(second.log)
        let aEnd = try #require(a["A-end"]), bStart = try #require(b["B-start"])
        #expect(bStart > aEnd, "B got the lock at \(bStart), before A let go at \(aEnd)")
    }

    /// A leader, a waiting candidate and an observer: the observer sees the leader, then its
    /// successor once the leader leaves.
    @Test func electShowsTheLeaderAndItsSuccessor() throws {
        let keel = try KeelProcess()
        let leader = keel.backgroundEtcdctl(["elect", "the-election", "first"], log: "elect-a.log")
        try Self.waitFor("first", in: leader)
        let successor = keel.backgroundEtcdctl(["elect", "the-election", "second"], log: "elect-b.log")
        let observer = keel.backgroundEtcdctl(["elect", "-l", "the-election"], log: "elect-l.log")
        try Self.waitFor("first", in: observer)
        usleep(500_000)
        #expect(!successor.log.contains("second"), "the second candidate was elected while the first led")
        leader.stop(signal: SIGINT)
        try Self.waitFor("second", in: successor)
        try Self.waitFor("second", in: observer)
        successor.stop(signal: SIGINT)
        observer.stop(signal: SIGINT)
        let seen = observer.log.split(separator: "\n").filter { $0 == "first" || $0 == "second" }
        #expect(seen == ["first", "second"], "\(observer.log)")
    }

    static func waitFor(_ text: String, in process: BackgroundProcess) throws {
        for _ in 0..<1000 {
            if process.log.split(separator: "\n").contains(where: { $0.contains(text) }) { return }
            if process.hasExited { break }
            usleep(10_000)
        }
        throw LockElectError.notSeen(text, process.log)
    }

    /// "label nanoseconds" lines.
    static func stamps(_ log: String) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for line in log.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = UInt64(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }
}

enum LockElectError: Error { case notSeen(String, String) }

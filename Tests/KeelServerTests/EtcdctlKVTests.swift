import Foundation
import KeelTestSupport
import Testing

/// The real etcdctl (Debian's etcd-client, API v3) against a real keel process: the KV
/// commands with their options, as an etcd user types them.
@Suite struct EtcdctlKVTests {
    @Test func putGetDeleteWithOptions() throws {
        let keel = try KeelProcess()
        for (key, value) in [("a", "1"), ("b", "2"), ("b1", "3"), ("c", "4"), ("d", "5")] {
            let put = keel.etcdctl(["put", key, value])
            #expect(put.exitStatus == 0 && put.output == "OK\n", "\(put.output)")
        }
        #expect(keel.etcdctl(["get", "b"]).output == "b\n2\n")
        #expect(keel.etcdctl(["get", "b", "--prefix"]).output == "b\n2\nb1\n3\n")
        #expect(keel.etcdctl(["get", "b", "d"]).output == "b\n2\nb1\n3\nc\n4\n")
        #expect(keel.etcdctl(["get", "c", "--from-key"]).output == "c\n4\nd\n5\n")
        #expect(keel.etcdctl(["get", "a", "--from-key", "--limit", "2"]).output == "a\n1\nb\n2\n")
        #expect(keel.etcdctl(["get", "a", "--from-key", "--keys-only"]).output == "a\n\nb\n\nb1\n\nc\n\nd\n\n")
        #expect(keel.etcdctl(["get", "b", "--prefix", "--print-value-only"]).output == "2\n3\n")
        #expect(keel.etcdctl(["get", "a", "--from-key", "--sort-by", "VALUE", "--order", "DESCEND", "--print-value-only"]).output
                == "5\n4\n3\n2\n1\n")
        // A limited range still counts every key in range, and says there are more.
        let limited = try json(keel.etcdctl(["get", "a", "--from-key", "--limit", "1", "-w", "json"]))
        #expect(limited["count"] as? Int == 5 && limited["more"] as? Bool == true)

        // Revisions: a is rewritten, the old value stays readable at its revision.
        let first = try json(keel.etcdctl(["get", "a", "-w", "json"]))
        let kvs = try #require(first["kvs"] as? [[String: Any]])
        let modRevision = try #require(kvs.first?["mod_revision"] as? Int)
        #expect(keel.etcdctl(["put", "a", "10"]).output == "OK\n")
        #expect(keel.etcdctl(["get", "a", "--rev", String(modRevision)]).output == "a\n1\n")
        #expect(keel.etcdctl(["get", "a"]).output == "a\n10\n")

        // The header names the cluster and member, and the revision.
        let header = try #require(first["header"] as? [String: Any])
        #expect((header["cluster_id"] as? UInt64 ?? 0) != 0 && (header["member_id"] as? UInt64 ?? 0) != 0)
        // etcd's numbering: an empty store is at revision 1, so five puts end at revision 6.
        #expect(header["revision"] as? Int == 6)

        #expect(keel.etcdctl(["del", "b", "--prefix"]).output == "2\n")
        #expect(keel.etcdctl(["del", "zzz"]).output == "0\n")
        #expect(keel.etcdctl(["del", "a", "--prev-kv"]).output == "1\na\n10\n")
        #expect(keel.etcdctl(["get", "", "--from-key"]).output == "c\n4\nd\n5\n")
    }

    @Test func txnFromStandardInput() throws {
        let keel = try KeelProcess()
        #expect(keel.etcdctl(["put", "user1", "bad"]).output == "OK\n")
        // etcdctl's interactive txn: compares, a blank line, success ops, a blank line, failure ops.
        let succeeded = keel.etcdctl(["txn"], input: "value(\"user1\") = \"bad\"\n\ndel user1\nput user2 good\n\nput user1 other\n\n")
        #expect(succeeded.exitStatus == 0 && succeeded.output == "SUCCESS\n\n1\n\nOK\n", "\(succeeded.output)")
        let failed = keel.etcdctl(["txn"], input: "value(\"user2\") = \"bad\"\n\ndel user2\n\nput user3 fallback\n\n")
        #expect(failed.output == "FAILURE\n\nOK\n", "\(failed.output)")
        #expect(keel.etcdctl(["get", "user", "--prefix"]).output == "user2\ngood\nuser3\nfallback\n")
        let versions = keel.etcdctl(["txn"], input: "create(\"user2\") > \"0\"\nmod(\"user3\") > \"0\"\nversion(\"user2\") = \"1\"\n\nget user3\n\n\n")
        #expect(versions.output == "SUCCESS\n\nuser3\nfallback\n", "\(versions.output)")
    }

    /// A Txn that only reads is served after a read index, as etcd serves it, not through the
    /// log: no proposal is made, its answer is the current state, and its refusals are etcd's.
    @Test func readOnlyTxnIsARead() throws {
        let keel = try KeelProcess()
        #expect(keel.etcdctl(["put", "a", "1"]).output == "OK\n")
        #expect(keel.etcdctl(["put", "b", "2"]).output == "OK\n")  // revision 3
        _ = keel.curl("/debug/latency?reset=true")
        let read = keel.etcdctl(["txn", "-w", "json"], input: "value(\"a\") = \"1\"\n\nget a\nget b\n\nget b\n\n")
        let object = try json(read)
        #expect(object["succeeded"] as? Bool == true, "\(read.output)")
        #expect(((object["header"] as? [String: Any])?["revision"] as? NSNumber)?.intValue == 3, "\(read.output)")
        let responses = try #require(object["responses"] as? [[String: Any]], "\(read.output)")
        #expect(responses.count == 2)
        let failed = keel.etcdctl(["txn"], input: "value(\"a\") = \"9\"\n\nget a\n\nget b\n\n")
        #expect(failed.output == "FAILURE\n\nb\n2\n", "\(failed.output)")
        let future = keel.etcdctl(["txn"], input: "\nget a --rev=100\n\n\n")
        #expect(future.exitStatus != 0 && future.output.contains("etcdserver: mvcc: required revision is a future revision"), "\(future.output)")
        // Three read-only Txns: three read indexes, no proposal.
        let counts = latencyStageCounts(keel.curl("/debug/latency").output)
        #expect(counts["proposal_wait"] == 0 && counts["read_index_wait"] == 3, "\(counts)")
        // A write made just before is seen.
        #expect(keel.etcdctl(["put", "a", "new"]).output == "OK\n")
        #expect(keel.etcdctl(["txn"], input: "\nget a\n\n\n").output == "SUCCESS\n\na\nnew\n")
    }

    @Test func revisionErrorsAndCompaction() throws {
        let keel = try KeelProcess()
        for i in 1...5 { #expect(keel.etcdctl(["put", "k", "v\(i)"]).output == "OK\n") }
        let future = keel.etcdctl(["get", "k", "--rev", "100"])
        #expect(future.exitStatus != 0 && future.output.contains("etcdserver: mvcc: required revision is a future revision"), "\(future.output)")
        #expect(keel.etcdctl(["compaction", "4"]).output == "compacted revision 4\n")
        let compacted = keel.etcdctl(["get", "k", "--rev", "3"])
        #expect(compacted.exitStatus != 0 && compacted.output.contains("etcdserver: mvcc: required revision has been compacted"), "\(compacted.output)")
        #expect(keel.etcdctl(["get", "k", "--rev", "4"]).output == "k\nv3\n")
        let again = keel.etcdctl(["compaction", "2"])
        #expect(again.output.contains("etcdserver: mvcc: required revision has been compacted"), "\(again.output)")
        let empty = keel.etcdctl(["put", "", "v"])
        #expect(empty.exitStatus != 0 && empty.output.contains("etcdserver: key is not provided"), "\(empty.output)")
    }

    private func json(_ outcome: Subprocess.Outcome) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(outcome.output.utf8))
        return try #require(object as? [String: Any], "\(outcome.output)")
    }
}

#if canImport(Glibc)
import Glibc
#endif
import KeelStorage
import KeelTestSupport
import Testing
@testable import KeelMVCC

/// The seed of a random test: `KEEL_SEED` when set (to replay a failure), else a fresh one.
/// The seeds of the random tests: KEEL_SEED, when set, replays one.
enum KeelSeed {
    static var replayed: UInt64? {
        guard let text = getenv("KEEL_SEED") else { return nil }
        return UInt64(String(cString: text))
    }

    /// One seed: the replayed one, or a fresh random one.
    static func value() -> UInt64 {
        replayed ?? UInt64.random(in: 1...UInt64.max)
    }

    /// `fixed`, or only the replayed seed.
    static func seeds(_ fixed: [UInt64]) -> [UInt64] {
        replayed.map { [$0] } ?? fixed
    }

    /// `count` fresh random seeds, or only the replayed one.
    static func seeds(count: Int) -> [UInt64] {
        replayed.map { [$0] } ?? (0..<count).map { _ in value() }
    }
}

/// A store in a temporary directory, with a counter of raft entries applied.
final class StoreFixture {
    let directory = TemporaryDirectory("keel-kvstore")
    let options: KVStoreOptions
    var database: Database
    var store: KVStore
    var applied: UInt64 = 0
    static let leases: Set<LeaseID> = [LeaseID(1), LeaseID(2)]

    init(options: KVStoreOptions = KVStoreOptions()) throws {
        self.options = options
        database = try Database.open(path: directory.child("db"))
        store = try KVStore(database: database, options: options)
        store.leaseExists = { Self.leases.contains($0) }
    }

    deinit {
        store.discardUncommitted()
        database.close()
        directory.remove()
    }

    /// The next raft entry's position.
    func next() -> ConsistentIndex {
        applied += 1
        return ConsistentIndex(index: applied, term: 1 + applied / 50)
    }

    /// Reopens the database and the store: after a clean close, or (`crash`) dropping what
    /// was not committed.
    func reopen(crash: Bool) throws {
        if crash { store.discardUncommitted() } else { try store.close() }
        database.close()
        database = try Database.open(path: directory.child("db"))
        store = try KVStore(database: database, options: options)
        store.leaseExists = { Self.leases.contains($0) }
        applied = store.consistentIndex.index
    }

    @discardableResult
    func put(_ key: String, _ value: String, lease: Int64 = 0) throws -> Applied<PutResponse> {
        try store.put(PutRequest(key: Array(key.utf8), value: Array(value.utf8), lease: LeaseID(lease)), applying: next())
    }

    func get(_ key: String, revision: Int64 = 0) -> KeyValue? {
        guard case .success(let response) = store.range(RangeRequest(key: Array(key.utf8), revision: revision)) else { return nil }
        return response.kvs.first
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite struct KVStoreTests {
    /// etcd's numbering: an empty store is at revision 1, so its first write makes revision 2,
    /// and revision 1 (the empty key space) is readable and can be compacted.
    @Test func anEmptyStoreIsAtRevisionOneAsInEtcd() throws {
        let fixture = try StoreFixture()
        #expect(fixture.store.currentRevision == 1 && fixture.store.compactRevision == 0)
        #expect(try fixture.store.compact(2, applying: fixture.next()) == .failure(.futureRevision))
        let empty = fixture.store.range(RangeRequest(key: [0], rangeEnd: [0], revision: 1))
        #expect(empty == .success(RangeResponse(revision: 1, kvs: [], more: false, count: 0)))
        #expect(try fixture.store.compact(1, applying: fixture.next()) == .success(CompactResponse(revision: 1)))
        try fixture.store.finishCompaction()
        #expect(fixture.store.compactRevision == 1 && fixture.store.currentRevision == 1)

        let first = try fixture.put("foo", "bar")
        #expect(first.response == .success(PutResponse(revision: 2)))
        #expect(first.events.map(\.kv) == [KeyValue(key: bytes("foo"), createRevision: 2, modRevision: 2, version: 1, value: bytes("bar"))])
        #expect(fixture.store.currentRevision == 2)
        #expect(fixture.store.range(RangeRequest(key: bytes("foo"), revision: 1)) == .success(RangeResponse(revision: 2, kvs: [], more: false, count: 0)))
        #expect(fixture.get("foo", revision: 2)?.createRevision == 2)
        // A reopen of the empty-then-compacted history keeps the numbering.
        try fixture.reopen(crash: false)
        #expect(fixture.store.currentRevision == 2 && fixture.store.compactRevision == 1)
        let fresh = try StoreFixture()
        try fresh.reopen(crash: false)
        #expect(fresh.store.currentRevision == 1)
    }

    @Test func putsMakeRevisionsAndVersions() throws {
        let fixture = try StoreFixture()
        let first = try fixture.put("a", "1")
        #expect(first.response == .success(PutResponse(revision: 2)))
        #expect(first.events == [Event(kind: .put, kv: KeyValue(key: bytes("a"), createRevision: 2, modRevision: 2, version: 1, value: bytes("1")))])
        try fixture.put("a", "2", lease: 1)
        #expect(fixture.get("a") == KeyValue(key: bytes("a"), createRevision: 2, modRevision: 3, version: 2, value: bytes("2"), lease: LeaseID(1)))
        #expect(fixture.get("a", revision: 2)?.value == bytes("1"))
        #expect(fixture.store.range(RangeRequest(key: bytes("a"), revision: 4)) == .failure(.futureRevision))

        let deleted = try fixture.store.deleteRange(DeleteRangeRequest(key: bytes("a"), prevKV: true), applying: fixture.next())
        guard case .success(let response) = deleted.response else { Issue.record("\(deleted)"); return }
        #expect(response.revision == 4 && response.deleted == 1 && response.prevKVs.map(\.value) == [bytes("2")])
        #expect(deleted.events.map(\.kv) == [KeyValue(key: bytes("a"), createRevision: 0, modRevision: 4, version: 0, value: [])])
        // Deleting nothing makes no revision.
        let nothing = try fixture.store.deleteRange(DeleteRangeRequest(key: bytes("a")), applying: fixture.next())
        #expect(nothing.response == .success(DeleteRangeResponse(revision: 4, deleted: 0)) && nothing.events.isEmpty)
        try fixture.put("a", "3")
        #expect(fixture.get("a") == KeyValue(key: bytes("a"), createRevision: 5, modRevision: 5, version: 1, value: bytes("3")))
        #expect(fixture.store.currentRevision == 5)
        #expect(fixture.store.consistentIndex.index == 5)
    }

    @Test func putRefusals() throws {
        let fixture = try StoreFixture()
        let unknownLease = try fixture.store.put(PutRequest(key: bytes("a"), lease: LeaseID(9)), applying: fixture.next())
        #expect(unknownLease.response == .failure(.leaseNotFound(LeaseID(9))))
        let missing = try fixture.store.put(PutRequest(key: bytes("a"), ignoreValue: true), applying: fixture.next())
        #expect(missing.response == .failure(.keyNotFound))
        #expect(fixture.store.currentRevision == 1 && fixture.store.consistentIndex.index == 2)
        try fixture.put("a", "v", lease: 2)
        let kept = try fixture.store.put(PutRequest(key: bytes("a"), prevKV: true, ignoreValue: true, ignoreLease: true), applying: fixture.next())
        #expect(kept.response == .success(PutResponse(revision: 3, prevKV: KeyValue(key: bytes("a"), createRevision: 2, modRevision: 2, version: 1, value: bytes("v"), lease: LeaseID(2)))))
        #expect(fixture.get("a") == KeyValue(key: bytes("a"), createRevision: 2, modRevision: 3, version: 2, value: bytes("v"), lease: LeaseID(2)))
    }

    @Test func rangeEndRules() throws {
        let fixture = try StoreFixture()
        for key in ["a", "ab", "b", "c"] { try fixture.put(key, key) }
        func keys(_ key: [UInt8], _ end: [UInt8]) -> [String] {
            guard case .success(let response) = fixture.store.range(RangeRequest(key: key, rangeEnd: end)) else { return ["refused"] }
            return response.kvs.map { String(decoding: $0.key, as: UTF8.self) }
        }
        #expect(keys(bytes("a"), []) == ["a"])
        #expect(keys(bytes("a"), bytes("b")) == ["a", "ab"])
        #expect(keys(bytes("ab"), [0]) == ["ab", "b", "c"])
        #expect(keys([0], [0]) == ["a", "ab", "b", "c"])
        #expect(keys(bytes("c"), bytes("a")) == [])
    }

    @Test func compactionRefusalsAndReads() throws {
        let fixture = try StoreFixture()
        for value in 1...5 { try fixture.put("k", "\(value)") }
        #expect(try fixture.store.compact(7, applying: fixture.next()) == .failure(.futureRevision))
        #expect(try fixture.store.compact(4, applying: fixture.next()) == .success(CompactResponse(revision: 6)))
        #expect(try fixture.store.compact(4, applying: fixture.next()) == .failure(.compacted(compactRevision: 4)))
        try fixture.store.finishCompaction()
        #expect(fixture.store.range(RangeRequest(key: bytes("k"), revision: 3)) == .failure(.compacted(compactRevision: 4)))
        #expect(fixture.get("k", revision: 4)?.value == bytes("3"))
        #expect(fixture.get("k", revision: 4)?.version == 3)
        // The superseded rows are gone from the B+tree, the kept one and the newer ones stay.
        try fixture.store.flush()
        let storage = fixture.database.beginRead()
        var rows: [Int64] = []
        storage.scan(KVStoreSchema.keyBucket) { key, _ in
            rows.append(Revision(keyBytes: key)!.main)
            return true
        }
        storage.end()
        #expect(rows == [4, 5, 6])
        // etcd's rule: history from the compact revision itself is still whole.
        #expect(fixture.store.events(from: 3, through: 6, key: bytes("k"), end: nil, eventsMax: 10) == .failure(.compacted(compactRevision: 4)))
        #expect((try? fixture.store.events(from: 4, through: 6, key: bytes("k"), end: nil, eventsMax: 10).get())?.map(\.kv.version) == [3, 4, 5])
        #expect(fixture.store.previous(bytes("k"), before: 6)?.version == 4)
    }

    /// A deletion at exactly the compact revision stays in history (a watch may start there),
    /// and the key stays absent at and after it, through a reopen that rebuilds the index.
    @Test func deletionAtTheCompactRevisionStaysInHistory() throws {
        let fixture = try StoreFixture()
        try fixture.put("k", "1")
        try fixture.put("j", "1")
        _ = try fixture.store.deleteRange(DeleteRangeRequest(key: bytes("k")), applying: fixture.next())
        try fixture.put("j", "2")
        #expect(try fixture.store.compact(4, applying: fixture.next()) == .success(CompactResponse(revision: 5)))
        try fixture.store.finishCompaction()
        try fixture.store.flush()
        let events = try fixture.store.events(from: 4, through: 5, key: bytes("a"), end: [0], eventsMax: 10).get()
        #expect(events.map(\.kind) == [.delete, .put])
        #expect(events.map(\.kv.modRevision) == [4, 5])
        #expect(fixture.get("k", revision: 4) == nil)
        try fixture.reopen(crash: false)
        let reopened = fixture.store
        #expect(try reopened.events(from: 4, through: 5, key: bytes("k"), end: nil, eventsMax: 10).get().map(\.kind) == [.delete])
        #expect(try reopened.range(RangeRequest(key: bytes("k"))).get().kvs.isEmpty)
        #expect(try reopened.range(RangeRequest(key: bytes("j"), revision: 4)).get().kvs.map(\.value) == [bytes("1")])
    }

    @Test func duplicateKeysInTxnAreRefusedAsEtcdDoes() {
        func put(_ key: String) -> RequestOp { .put(PutRequest(key: bytes(key))) }
        func delete(_ key: String, _ end: [UInt8] = []) -> RequestOp { .deleteRange(DeleteRangeRequest(key: bytes(key), rangeEnd: end)) }
        func txn(_ success: [RequestOp], _ failure: [RequestOp] = []) -> RequestOp { .txn(TxnRequest(success: success, failure: failure)) }
        let cases: [(ops: [RequestOp], accepted: Bool)] = [
            ([put("a"), put("b")], true),
            ([put("a"), put("a")], false),
            ([put("a"), delete("a")], false),
            ([delete("a"), put("a")], false),
            ([delete("a", bytes("c")), put("b")], false),
            ([delete("a", bytes("c")), put("c")], true),
            ([delete("a"), delete("a")], true),
            ([delete("a", [0]), put("b")], true),          // etcd: "\0" is a raw end byte here
            ([txn([put("a")], [put("a")])], true),         // then and else exclude each other
            ([txn([put("a")]), put("a")], false),
            ([txn([put("a")]), txn([put("a")])], false),
            ([txn([], [put("a")]), put("a")], false),
            ([txn([put("b")]), delete("a", bytes("c"))], false),
            ([txn([delete("a", bytes("c"))]), put("b")], false),
            ([txn([delete("a", bytes("c"))]), txn([put("b")])], false),
            ([txn([put("b")]), txn([delete("a", bytes("c"))])], true), // etcd checks in this order only
            ([txn([txn([put("x")])]), put("x")], false),
            ([txn([put("a"), put("a")])], false),
        ]
        for (index, entry) in cases.enumerated() {
            #expect(TxnChecks.writesEachKeyOnce(TxnRequest(success: entry.ops)) == entry.accepted, "case \(index)")
            #expect(TxnChecks.writesEachKeyOnce(TxnRequest(failure: entry.ops)) == entry.accepted, "case \(index) in failure")
        }
        // Success and failure are checked apart.
        #expect(TxnChecks.writesEachKeyOnce(TxnRequest(success: [put("a")], failure: [put("a")])))
    }

    @Test func txnComparesChooseBranchesAndApplyAtOneRevision() throws {
        let fixture = try StoreFixture()
        try fixture.put("a", "1")
        let request = TxnRequest(
            compare: [Compare(key: bytes("a"), .value(bytes("1")), .equal), Compare(key: bytes("zz"), .version(0), .equal)],
            success: [.put(PutRequest(key: bytes("b"), value: bytes("x"))),
                      .range(RangeRequest(key: bytes("a"), rangeEnd: [0])),
                      .txn(TxnRequest(compare: [Compare(key: bytes("b"), .create(0), .greater)],
                                      success: [.put(PutRequest(key: bytes("c")))],
                                      failure: [.deleteRange(DeleteRangeRequest(key: bytes("a")))]))],
            failure: [])
        let applied = try fixture.store.txn(request, applying: fixture.next())
        guard case .success(let response) = applied.response else { Issue.record("\(applied)"); return }
        #expect(response.succeeded && response.revision == 3)
        // The range sees the Txn's own put; the nested compare saw the state before the Txn
        // (no b yet), so it took its failure branch.
        guard case .range(let range) = response.responses[1], case .txn(let nested) = response.responses[2] else { Issue.record("\(response)"); return }
        #expect(range.kvs.map(\.key) == [bytes("a"), bytes("b")] && range.revision == 3)
        #expect(!nested.succeeded && nested.revision == 0)
        #expect(applied.events.map(\.kind) == [.put, .delete] && applied.events.allSatisfy { $0.kv.modRevision == 3 })
        #expect(fixture.get("a") == nil && fixture.get("b")?.modRevision == 3)
        // A read-only Txn makes no revision.
        let readOnly = try fixture.store.txn(TxnRequest(success: [.range(RangeRequest(key: bytes("b")))]), applying: fixture.next())
        guard case .success(let readResponse) = readOnly.response else { Issue.record("\(readOnly)"); return }
        #expect(readResponse.revision == 3 && fixture.store.currentRevision == 3)
        let future = try fixture.store.txn(TxnRequest(success: [.range(RangeRequest(key: bytes("b"), revision: 4)), .put(PutRequest(key: bytes("q")))]),
                                           applying: fixture.next())
        #expect(future.response == .failure(.futureRevision) && fixture.store.currentRevision == 3)
    }
}

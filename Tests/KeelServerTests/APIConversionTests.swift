import Foundation
import KeelAPI
import KeelMVCC
import Testing
@testable import KeelServer

/// Wire ↔ key space conversions: every field set, both directions.
@Suite struct APIConversionTests {
    static func data(_ text: String) -> Data { Data(text.utf8) }
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let kv = KeyValue(key: bytes("k"), createRevision: 3, modRevision: 9, version: 4, value: bytes("v"), lease: LeaseID(77))

    static var header: Etcdserverpb_ResponseHeader {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = 0xCDF8_1819_4E3A_8C32
        header.memberID = 0x8E9E_05C5_2164_694D
        header.revision = 1
        header.raftTerm = 5
        return header
    }

    @Test func keyValueBothWays() {
        let wire = Mvccpb_KeyValue(Self.kv)
        #expect(wire.key == Self.data("k") && wire.value == Self.data("v"))
        #expect(wire.createRevision == 3 && wire.modRevision == 9 && wire.version == 4 && wire.lease == 77)
        #expect(KeyValue(wire) == Self.kv)
    }

    @Test func rangeRequestEveryField() {
        var wire = Etcdserverpb_RangeRequest()
        wire.key = Self.data("a")
        wire.rangeEnd = Self.data("z")
        wire.limit = 10
        wire.revision = 42
        wire.sortOrder = .descend
        wire.sortTarget = .mod
        wire.serializable = true
        wire.keysOnly = true
        wire.countOnly = true
        wire.minModRevision = 1
        wire.maxModRevision = 2
        wire.minCreateRevision = 3
        wire.maxCreateRevision = 4
        let request = RangeRequest(wire)
        #expect(request == RangeRequest(key: Self.bytes("a"), rangeEnd: Self.bytes("z"), limit: 10, revision: 42,
                                        sortOrder: .descend, sortTarget: .mod, keysOnly: true, countOnly: true,
                                        minModRevision: 1, maxModRevision: 2, minCreateRevision: 3, maxCreateRevision: 4))
        #expect(Etcdserverpb_RangeRequest(request, serializable: true) == wire)
    }

    @Test(arguments: [
        (Etcdserverpb_RangeRequest.SortOrder.none, RangeRequest.SortOrder.none),
        (.ascend, .ascend), (.descend, .descend),
    ])
    func sortOrders(wire: Etcdserverpb_RangeRequest.SortOrder, order: RangeRequest.SortOrder) {
        #expect(RangeRequest.SortOrder(wire) == order)
        #expect(order.wire == wire)
    }

    @Test(arguments: [
        (Etcdserverpb_RangeRequest.SortTarget.key, RangeRequest.SortTarget.key),
        (.version, .version), (.create, .create), (.mod, .mod), (.value, .value),
    ])
    func sortTargets(wire: Etcdserverpb_RangeRequest.SortTarget, target: RangeRequest.SortTarget) {
        #expect(RangeRequest.SortTarget(wire) == target)
        #expect(target.wire == wire)
    }

    @Test func unknownSortOptionsHaveNoKeySpaceForm() {
        #expect(RangeRequest.SortOrder(.UNRECOGNIZED(9)) == nil)
        #expect(RangeRequest.SortTarget(.UNRECOGNIZED(9)) == nil)
    }

    @Test func rangeResponseCarriesTheCallersHeader() {
        let response = RangeResponse(revision: 12, kvs: [Self.kv, Self.kv], more: true, count: 7)
        let wire = Etcdserverpb_RangeResponse(response, header: Self.header)
        #expect(wire.header.clusterID == Self.header.clusterID && wire.header.memberID == Self.header.memberID)
        #expect(wire.header.raftTerm == 5 && wire.header.revision == 12)
        #expect(wire.kvs.count == 2 && wire.more && wire.count == 7)
        #expect(RangeResponse(wire) == response)
    }

    @Test func putBothWays() {
        var wire = Etcdserverpb_PutRequest()
        wire.key = Self.data("k")
        wire.value = Self.data("v")
        wire.lease = 5
        wire.prevKv = true
        wire.ignoreValue = true
        wire.ignoreLease = true
        let request = PutRequest(wire)
        #expect(request == PutRequest(key: Self.bytes("k"), value: Self.bytes("v"), lease: LeaseID(5), prevKV: true,
                                      ignoreValue: true, ignoreLease: true))
        #expect(Etcdserverpb_PutRequest(request) == wire)

        let response = PutResponse(revision: 13, prevKV: Self.kv)
        let wireResponse = Etcdserverpb_PutResponse(response, header: Self.header)
        #expect(wireResponse.hasPrevKv && wireResponse.header.revision == 13 && wireResponse.header.raftTerm == 5)
        #expect(PutResponse(wireResponse) == response)
        // No previous value: no prev_kv on the wire (not an empty one).
        let bare = Etcdserverpb_PutResponse(PutResponse(revision: 14), header: Self.header)
        #expect(!bare.hasPrevKv && PutResponse(bare) == PutResponse(revision: 14))
    }

    @Test func deleteRangeBothWays() {
        var wire = Etcdserverpb_DeleteRangeRequest()
        wire.key = Self.data("a")
        wire.rangeEnd = Self.data("b")
        wire.prevKv = true
        let request = DeleteRangeRequest(wire)
        #expect(request == DeleteRangeRequest(key: Self.bytes("a"), rangeEnd: Self.bytes("b"), prevKV: true))
        #expect(Etcdserverpb_DeleteRangeRequest(request) == wire)

        let response = DeleteRangeResponse(revision: 15, deleted: 2, prevKVs: [Self.kv, Self.kv])
        let wireResponse = Etcdserverpb_DeleteRangeResponse(response, header: Self.header)
        #expect(wireResponse.header.revision == 15 && wireResponse.deleted == 2 && wireResponse.prevKvs.count == 2)
        #expect(DeleteRangeResponse(wireResponse) == response)
    }

    @Test func compactResponse() {
        let wire = Etcdserverpb_CompactionResponse(CompactResponse(revision: 20), header: Self.header)
        #expect(wire.header.revision == 20 && wire.header.memberID == Self.header.memberID)
        #expect(CompactResponse(wire) == CompactResponse(revision: 20))
    }

    /// Every compare target (lease and a range end included), all four op kinds, a nested Txn.
    static var txn: TxnRequest {
        let compares = [
            Compare(key: bytes("a"), .version(1), .equal),
            Compare(key: bytes("b"), rangeEnd: bytes("c"), .create(2), .greater),
            Compare(key: bytes("d"), .mod(3), .less),
            Compare(key: bytes("e"), .value(bytes("x")), .notEqual),
            Compare(key: bytes("f"), rangeEnd: [0], .lease(LeaseID(9)), .equal),
        ]
        let nested = TxnRequest(compare: [compares[0]], success: [.put(PutRequest(key: bytes("n"), value: bytes("1")))],
                                failure: [.range(RangeRequest(key: bytes("n")))])
        return TxnRequest(
            compare: compares,
            success: [.range(RangeRequest(key: bytes("a"), rangeEnd: bytes("b"), limit: 3, sortOrder: .ascend, sortTarget: .value)),
                      .put(PutRequest(key: bytes("p"), value: bytes("q"), lease: LeaseID(9), prevKV: true)),
                      .deleteRange(DeleteRangeRequest(key: bytes("r"), rangeEnd: bytes("s"), prevKV: true)),
                      .txn(nested)],
            failure: [.deleteRange(DeleteRangeRequest(key: bytes("t")))])
    }

    @Test func txnBothWays() {
        let wire = Etcdserverpb_TxnRequest(Self.txn)
        #expect(wire.compare.map(\.target) == [.version, .create, .mod, .value, .lease])
        #expect(wire.compare.map(\.result) == [.equal, .greater, .less, .notEqual, .equal])
        #expect(wire.compare[4].lease == 9 && wire.compare[4].rangeEnd == Data([0]))
        #expect(wire.success.count == 4 && wire.success[3].requestTxn.success[0].requestPut.key == Self.data("n"))
        #expect(TxnRequest(wire) == Self.txn)
    }

    /// As etcd: `target` picks the union field; another field in the union compares as zero.
    @Test func compareTargetDisagreeingWithUnion() {
        var wire = Etcdserverpb_Compare()
        wire.key = Self.data("k")
        wire.target = .mod
        wire.version = 5
        #expect(Compare(wire).target == .mod(0))
        wire.target = .value
        #expect(Compare(wire).target == .value([]))
        wire.target = .lease
        #expect(Compare(wire).target == .lease(.none))
        wire.target = .version
        #expect(Compare(wire).target == .version(5))
    }

    @Test func txnResponseNestsHeadersAsEtcd() {
        let nested = TxnResponse(revision: 0, succeeded: false, responses: [.range(RangeResponse(revision: 30, kvs: [], more: false, count: 0))])
        let response = TxnResponse(revision: 31, succeeded: true, responses: [
            .range(RangeResponse(revision: 30, kvs: [Self.kv], more: true, count: 4)),
            .put(PutResponse(revision: 31, prevKV: Self.kv)),
            .deleteRange(DeleteRangeResponse(revision: 31, deleted: 1, prevKVs: [Self.kv])),
            .txn(nested),
        ])
        let wire = Etcdserverpb_TxnResponse(response, header: Self.header)
        #expect(wire.header.revision == 31 && wire.header.clusterID == Self.header.clusterID && wire.succeeded)
        // Nested headers carry the revision only; a nested Txn's header is present and empty.
        #expect(wire.responses[0].responseRange.header == Etcdserverpb_ResponseHeader(revision: 30))
        #expect(wire.responses[1].responsePut.header.clusterID == 0)
        #expect(wire.responses[3].responseTxn.hasHeader && wire.responses[3].responseTxn.header == Etcdserverpb_ResponseHeader())
        #expect(TxnResponse(wire) == response)
    }

    /// A zero revision (nothing the key space answered at) keeps the caller's, as etcd's fill.
    @Test func zeroRevisionKeepsCallersHeaderRevision() {
        var header = Self.header
        header.revision = 99
        let wire = Etcdserverpb_TxnResponse(TxnResponse(revision: 0, succeeded: true, responses: []), header: header)
        #expect(wire.header.revision == 99)
    }
}

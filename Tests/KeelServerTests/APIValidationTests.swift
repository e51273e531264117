import Foundation
import KeelAPI
import KeelTestSupport
import Testing
@testable import KeelMVCC
@testable import KeelServer

/// The gRPC layer's request checks: etcd's codes and messages, etcd's order.
@Suite struct APIValidationTests {
    static let limits = RequestLimits()

    static func put(_ key: String, value: String = "") -> Etcdserverpb_RequestOp {
        var put = Etcdserverpb_PutRequest()
        put.key = Data(key.utf8)
        put.value = Data(value.utf8)
        var op = Etcdserverpb_RequestOp()
        op.request = .requestPut(put)
        return op
    }

    static func delete(_ key: String, _ end: [UInt8] = []) -> Etcdserverpb_RequestOp {
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = Data(key.utf8)
        delete.rangeEnd = Data(end)
        var op = Etcdserverpb_RequestOp()
        op.request = .requestDeleteRange(delete)
        return op
    }

    static func range(_ key: String) -> Etcdserverpb_RequestOp {
        var range = Etcdserverpb_RangeRequest()
        range.key = Data(key.utf8)
        var op = Etcdserverpb_RequestOp()
        op.request = .requestRange(range)
        return op
    }

    static func txn(_ success: [Etcdserverpb_RequestOp], _ failure: [Etcdserverpb_RequestOp] = [],
                    compares: Int = 0) -> Etcdserverpb_TxnRequest {
        var txn = Etcdserverpb_TxnRequest()
        txn.success = success
        txn.failure = failure
        txn.compare = (0..<compares).map { _ in
            var compare = Etcdserverpb_Compare()
            compare.key = Data("c".utf8)
            return compare
        }
        return txn
    }

    static func nested(_ txn: Etcdserverpb_TxnRequest) -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.request = .requestTxn(txn)
        return op
    }

    static func refusal(_ txn: Etcdserverpb_TxnRequest) -> EtcdError? { KVRequestValidation.refusal(txn, limits: limits) }

    @Test func emptyKeys() {
        let expected = GRPCStatus(.invalidArgument, "etcdserver: key is not provided")
        #expect(KVRequestValidation.check(Etcdserverpb_RangeRequest()) == expected)
        #expect(KVRequestValidation.check(Etcdserverpb_PutRequest()) == expected)
        #expect(KVRequestValidation.check(Etcdserverpb_DeleteRangeRequest()) == expected)
        #expect(KVRequestValidation.check(Self.txn([Self.put("")]), limits: Self.limits) == expected)
        var compareless = Self.txn([], compares: 1)
        compareless.compare[0].key = Data()
        #expect(KVRequestValidation.check(compareless, limits: Self.limits) == expected)
    }

    @Test func acceptsWellFormedRequests() {
        var range = Etcdserverpb_RangeRequest()
        range.key = Data("k".utf8)
        range.sortOrder = .descend
        range.sortTarget = .value
        #expect(KVRequestValidation.check(range) == nil)
        #expect(KVRequestValidation.check(Self.put("k").requestPut) == nil)
        #expect(KVRequestValidation.check(Self.delete("k").requestDeleteRange) == nil)
        #expect(Self.refusal(Self.txn([Self.put("a"), Self.range("a"), Self.delete("b")], [Self.put("a")], compares: 3)) == nil)
    }

    @Test func putIgnoreFlags() {
        var put = Self.put("k", value: "v").requestPut
        put.ignoreValue = true
        #expect(KVRequestValidation.check(put) == GRPCStatus(.invalidArgument, "etcdserver: value is provided"))
        put.value = Data()
        put.ignoreLease = true
        put.lease = 3
        #expect(KVRequestValidation.check(put) == GRPCStatus(.invalidArgument, "etcdserver: lease is provided"))
        put.lease = 0
        #expect(KVRequestValidation.check(put) == nil)
    }

    @Test func unknownSortOptions() {
        var range = Self.range("k").requestRange
        range.sortOrder = .UNRECOGNIZED(3)
        #expect(KVRequestValidation.check(range) == GRPCStatus(.invalidArgument, "etcdserver: invalid sort option"))
        range.sortOrder = .ascend
        range.sortTarget = .UNRECOGNIZED(5)
        #expect(KVRequestValidation.refusal(range) == .invalidSortOption)
        // Inside a Txn too.
        var op = Etcdserverpb_RequestOp()
        op.request = .requestRange(range)
        #expect(Self.refusal(Self.txn([op])) == .invalidSortOption)
    }

    @Test func unknownCompareEnums() {
        var txn = Self.txn([], compares: 1)
        txn.compare[0].result = .UNRECOGNIZED(8)
        #expect(Self.refusal(txn) == .invalidCompare)
        txn.compare[0].result = .equal
        txn.compare[0].target = .UNRECOGNIZED(8)
        #expect(Self.refusal(txn) == .invalidCompare)
    }

    @Test func opWithoutRequestIsKeyNotFound() {
        #expect(KVRequestValidation.check(Self.txn([Etcdserverpb_RequestOp()]), limits: Self.limits)
            == GRPCStatus(.invalidArgument, "etcdserver: key not found"))
    }

    @Test func operationLimit() {
        let tooMany = GRPCStatus(.invalidArgument, "etcdserver: too many operations in txn request")
        let puts = (0..<128).map { Self.put("k\($0)") }
        #expect(KVRequestValidation.check(Self.txn(puts), limits: Self.limits) == nil)
        #expect(KVRequestValidation.check(Self.txn(puts + [Self.put("x")]), limits: Self.limits) == tooMany)
        #expect(KVRequestValidation.check(Self.txn([], puts + [Self.put("x")]), limits: Self.limits) == tooMany)
        #expect(KVRequestValidation.check(Self.txn([], compares: 129), limits: Self.limits) == tooMany)
        #expect(KVRequestValidation.check(Self.txn([], compares: 4), limits: RequestLimits(maxTxnOps: 3)) == tooMany)
    }

    /// A nested Txn gets the budget left after its parent's largest list (etcd's rule).
    @Test func nestedTxnBudget() {
        let inner = { (count: Int) in Self.txn((0..<count).map { Self.put("n\($0)") }) }
        let filler = (0..<99).map { Self.range("r\($0)") }
        #expect(Self.refusal(Self.txn(filler + [Self.nested(inner(28))])) == nil)
        #expect(Self.refusal(Self.txn(filler + [Self.nested(inner(29))])) == .tooManyOperations)
    }

    @Test func duplicatePuts() {
        let duplicate = GRPCStatus(.invalidArgument, "etcdserver: duplicate key given in txn request")
        #expect(KVRequestValidation.check(Self.txn([Self.put("a"), Self.put("a")]), limits: Self.limits) == duplicate)
        #expect(KVRequestValidation.check(Self.txn([], [Self.put("a"), Self.put("a")]), limits: Self.limits) == duplicate)
        // One branch each: only one runs.
        #expect(Self.refusal(Self.txn([Self.put("a")], [Self.put("a")])) == nil)
    }

    @Test func putsAgainstDeletes() {
        #expect(Self.refusal(Self.txn([Self.delete("a"), Self.put("a")])) == .duplicateKey)
        #expect(Self.refusal(Self.txn([Self.put("b"), Self.delete("a", Array("c".utf8))])) == .duplicateKey)
        // The range end is exclusive; two deletes never conflict.
        #expect(Self.refusal(Self.txn([Self.put("c"), Self.delete("a", Array("c".utf8))])) == nil)
        #expect(Self.refusal(Self.txn([Self.delete("a"), Self.delete("a", Array("z".utf8))])) == nil)
        // As etcd's interval tree: a "\0" range end (every key from "a") covers no put.
        #expect(Self.refusal(Self.txn([Self.put("b"), Self.delete("a", [0])])) == nil)
    }

    @Test func nestedTxnWrites() {
        // Nested puts join the parent's.
        #expect(Self.refusal(Self.txn([Self.put("a"), Self.nested(Self.txn([Self.put("a")]))])) == .duplicateKey)
        // A key put on both branches of a nested Txn counts once.
        #expect(Self.refusal(Self.txn([Self.nested(Self.txn([Self.put("a")], [Self.put("a")]))])) == nil)
        // Two nested Txns putting one key conflict, unless only on one's branches.
        #expect(Self.refusal(Self.txn([Self.nested(Self.txn([Self.put("a")])), Self.nested(Self.txn([], [Self.put("a")]))])) == .duplicateKey)
        // A parent's delete covers nested puts.
        #expect(Self.refusal(Self.txn([Self.delete("a", Array("z".utf8)), Self.nested(Self.txn([], [Self.put("m")]))])) == .duplicateKey)
        // A nested delete covers the parent's puts and later nested Txns' puts, not earlier ones.
        #expect(Self.refusal(Self.txn([Self.put("m"), Self.nested(Self.txn([Self.delete("a", Array("z".utf8))]))])) == .duplicateKey)
        #expect(Self.refusal(Self.txn([Self.nested(Self.txn([Self.delete("m")])), Self.nested(Self.txn([Self.put("m")]))])) == .duplicateKey)
        #expect(Self.refusal(Self.txn([Self.nested(Self.txn([Self.put("m")])), Self.nested(Self.txn([Self.delete("m")]))])) == nil)
        // Either branch's deletes count.
        #expect(Self.refusal(Self.txn([Self.put("m"), Self.nested(Self.txn([], [Self.delete("m")]))])) == .duplicateKey)
    }

    /// Many deletes use the sorted index rather than the scan; the answers must not change.
    @Test func manyDeletesUseTheIndex() {
        let deletes = (0..<40).map { Self.delete("k\($0 * 2)", Array("k\($0 * 2)x".utf8)) }
        #expect(Self.refusal(Self.txn(deletes + [Self.put("k10a")])) == .duplicateKey)
        #expect(Self.refusal(Self.txn(deletes + [Self.put("k10x")])) == nil)
        #expect(Self.refusal(Self.txn(deletes + [Self.put("k9")])) == nil)
        #expect(Self.refusal(Self.txn(deletes + [Self.put("k78")])) == .duplicateKey)
        // A wide range early in the order covers keys past many narrower ones.
        #expect(Self.refusal(Self.txn(deletes + [Self.put("k3")])) == nil)
        #expect(Self.refusal(Self.txn(deletes + [Self.delete("a", Array("k5".utf8)), Self.put("k3")])) == .duplicateKey)
    }

    /// Random Txns: the gRPC layer's write check agrees with the key space's own (KeelMVCC's
    /// TxnChecks, which the apply loop runs), on small key alphabets so that conflicts happen.
    @Test func agreesWithTheKeySpaceCheck() {
        let seed = KeelSeedForAPI.value()
        print("APIValidationTests.agreesWithTheKeySpaceCheck seed \(seed) (replay with KEEL_SEED=\(seed))")
        var random = SeededGenerator(seed: seed)
        var refused = 0
        for _ in 0..<1500 {
            let txn = Self.randomTxn(depth: 0, using: &random)
            let keySpaceAccepts = TxnChecks.writesEachKeyOnce(TxnRequest(txn))
            let apiRefusal = Self.refusal(txn)
            if (apiRefusal == nil) != keySpaceAccepts {
                Issue.record("seed \(seed): the key space \(keySpaceAccepts ? "accepts" : "refuses") \(txn)")
                return
            }
            if apiRefusal != nil { refused += 1 }
        }
        print("APIValidationTests.agreesWithTheKeySpaceCheck: \(refused) of 1500 refused")
        #expect(refused > 100 && refused < 1400, "the random Txns should both pass and fail")
    }

    static func randomKey(using random: inout SeededGenerator) -> String {
        String(UnicodeScalar(UInt8.random(in: 97...122, using: &random)))
            + (Int.random(in: 0..<8, using: &random) == 0 ? "" : String(UnicodeScalar(UInt8.random(in: 97...106, using: &random))))
    }

    static func randomOps(depth: Int, using random: inout SeededGenerator) -> [Etcdserverpb_RequestOp] {
        let count = Int.random(in: 0...(depth == 0 ? 30 : 4), using: &random)
        return (0..<count).map { _ -> Etcdserverpb_RequestOp in
            let key = randomKey(using: &random)
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4: return put(key)
            case 4..<6: return delete(key)
            // A "\0" end, or a narrow range: a wide one would cover most puts.
            case 6: return delete(key, Bool.random(using: &random) ? [0] : Array(key.utf8) + [UInt8.random(in: 97...106, using: &random)])
            case 7: return range(key)
            default: return depth < 2 ? nested(randomTxn(depth: depth + 1, using: &random)) : put(key)
            }
        }
    }

    static func randomTxn(depth: Int, using random: inout SeededGenerator) -> Etcdserverpb_TxnRequest {
        txn(randomOps(depth: depth, using: &random), randomOps(depth: depth, using: &random))
    }
}

/// The seed of a random test here: `KEEL_SEED` when set (to replay a failure), else a fresh one.
enum KeelSeedForAPI {
    static func value() -> UInt64 {
        if let text = ProcessInfo.processInfo.environment["KEEL_SEED"], let seed = UInt64(text) { return seed }
        return UInt64.random(in: 1...UInt64.max)
    }
}

import FoundationEssentials
import KeelAPI
import Testing

/// Golden bytes for the KV messages etcdctl sends and reads, worked out by hand from the field
/// numbers and types of etcd 3.5's rpc.proto and kv.proto (fields in ascending number order, as
/// etcd's own marshaller writes them; fields at their proto3 default are absent).
@Suite struct KVWireTests {
    @Test func rangeRequestWithEveryOptionEtcdctlGetUses() throws {
        var request = Etcdserverpb_RangeRequest()
        request.key = data("foo")
        request.rangeEnd = data("fop")  // --prefix
        request.limit = 10
        request.revision = 5
        request.sortOrder = .descend
        request.sortTarget = .mod
        request.serializable = true
        request.keysOnly = true
        request.countOnly = true
        request.minModRevision = 300
        try expectWire(request, """
            0a 03 66 6f 6f | 12 03 66 6f 70 | 18 0a | 20 05 | 28 02 | 30 03 | 38 01 | 40 01 | 48 01
            50 ac 02
            """)

        let decoded = try Etcdserverpb_RangeRequest(serializedBytes: bytes("""
            0a 03 66 6f 6f | 12 01 00 | 28 01 | 30 04
            """))
        #expect(decoded.key == data("foo"))
        #expect(decoded.rangeEnd == Data([0]))  // --from-key
        #expect(decoded.sortOrder == .ascend)
        #expect(decoded.sortTarget == .value)
        #expect(decoded.limit == 0 && decoded.revision == 0 && !decoded.serializable)
    }

    @Test func putRequestWithLeaseAndFlags() throws {
        var request = Etcdserverpb_PutRequest()
        request.key = data("k")
        request.lease = 1 << 62  // nine-byte varint
        request.prevKv = true
        request.ignoreValue = true  // value stays empty and is not sent
        try expectWire(request, """
            0a 01 6b | 18 80 80 80 80 80 80 80 80 40 | 20 01 | 28 01
            """)

        var withValue = Etcdserverpb_PutRequest()
        withValue.key = data("k")
        withValue.value = data("v")
        withValue.ignoreLease = true
        try expectWire(withValue, "0a 01 6b | 12 01 76 | 30 01")
    }

    /// etcdctl writes `version("a") = "0"` as a Compare whose oneof holds version 0. A set oneof
    /// member is on the wire even at its default value (`20 00` below); dropping it would turn
    /// the compare into one with no operand.
    @Test func txnRequestWithACompareOfEveryTarget() throws {
        var byVersion = Etcdserverpb_Compare()
        byVersion.key = data("a")
        byVersion.targetUnion = .version(0)
        var byCreate = Etcdserverpb_Compare()
        byCreate.result = .greater
        byCreate.target = .create
        byCreate.key = data("b")
        byCreate.targetUnion = .createRevision(7)
        var byMod = Etcdserverpb_Compare()
        byMod.result = .less
        byMod.target = .mod
        byMod.key = data("c")
        byMod.targetUnion = .modRevision(300)
        var byValue = Etcdserverpb_Compare()
        byValue.result = .notEqual
        byValue.target = .value
        byValue.key = data("d")
        byValue.targetUnion = .value(data("x"))
        var byLease = Etcdserverpb_Compare()
        byLease.target = .lease
        byLease.key = data("e")
        byLease.targetUnion = .lease(5)
        byLease.rangeEnd = data("f")  // field 64: tag (64 << 3) | 2 = 514, varint 82 04

        var put = Etcdserverpb_PutRequest()
        put.key = data("a")
        put.value = data("1")
        var range = Etcdserverpb_RangeRequest()
        range.key = data("a")
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [byVersion, byCreate, byMod, byValue, byLease]
        var success = Etcdserverpb_RequestOp()
        success.requestPut = put
        var failure = Etcdserverpb_RequestOp()
        failure.requestRange = range
        txn.success = [success]
        txn.failure = [failure]

        try expectWire(txn, """
            0a 05 | 1a 01 61 | 20 00
            0a 09 | 08 01 | 10 01 | 1a 01 62 | 28 07
            0a 0a | 08 02 | 10 02 | 1a 01 63 | 30 ac 02
            0a 0a | 08 03 | 10 03 | 1a 01 64 | 3a 01 78
            0a 0b | 10 04 | 1a 01 65 | 40 05 | 82 04 01 66
            12 08 | 12 06 | 0a 01 61 | 12 01 31
            1a 05 | 0a 03 | 0a 01 61
            """)

        let decoded = try Etcdserverpb_TxnRequest(serializedBytes: bytes("0a 05 1a 01 61 20 00"))
        #expect(decoded.compare.count == 1)
        #expect(decoded.compare[0].targetUnion == .version(0))
        #expect(decoded.compare[0].target == .version && decoded.compare[0].result == .equal)
    }

    @Test func responseHeaderWithFullWidthIDs() throws {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = 0xCDF8_1819_4E3A_8C32
        header.memberID = 0x8E9E_05C5_2164_694D
        header.revision = 3
        header.raftTerm = 2
        try expectWire(header, """
            08 b2 98 ea f1 94 83 86 fc cd 01
            10 cd d2 91 8b d2 b8 81 cf 8e 01
            18 03 | 20 02
            """)
    }

    @Test func keyValue() throws {
        var kv = Mvccpb_KeyValue()
        kv.key = data("foo")
        kv.createRevision = 2
        kv.modRevision = 3
        kv.version = 2
        kv.value = data("bar")
        kv.lease = 0x694D_80AE_9A2D_3A2F
        try expectWire(kv, """
            0a 03 66 6f 6f | 10 02 | 18 03 | 20 02 | 2a 03 62 61 72
            30 af f4 b4 d1 e9 95 e0 a6 69
            """)
    }
}

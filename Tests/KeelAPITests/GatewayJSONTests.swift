import FoundationEssentials
import KeelAPI
import SwiftProtobuf
import Testing

/// The gateway's JSON must read like etcd 3.5's (see `GatewayJSON` for where each rule comes from):
/// the expected strings have the shape of the curl examples in etcd's gateway documentation.
@Suite struct GatewayJSONTests {
    @Test func rangeResponseUsesProtoNamesStringInt64sAndBase64() throws {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = 14_841_639_068_965_178_418
        header.memberID = 10_276_657_743_932_975_437
        header.revision = 3
        header.raftTerm = 2
        var kv = Mvccpb_KeyValue()
        kv.key = data("foo")
        kv.createRevision = 2
        kv.modRevision = 3
        kv.version = 2
        kv.value = data("bar")
        var response = Etcdserverpb_RangeResponse()
        response.header = header
        response.kvs = [kv]
        response.count = 1  // `more` stays false, so it is left out

        let json = try response.jsonString(options: GatewayJSON.encodingOptions)
        #expect(
            json == #"{"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","#
                + #""revision":"3","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2","#
                + #""mod_revision":"3","version":"2","value":"YmFy"}],"count":"1"}"#)
    }

    @Test func enumsByNameAndUpperCaseProtoNamesKept() throws {
        var request = Etcdserverpb_RangeRequest()
        request.key = data("a")
        request.sortOrder = .descend
        #expect(
            try request.jsonString(options: GatewayJSON.encodingOptions)
                == #"{"key":"YQ==","sort_order":"DESCEND"}"#)

        var grant = Etcdserverpb_LeaseGrantResponse()
        grant.id = 7
        grant.ttl = 60
        #expect(try grant.jsonString(options: GatewayJSON.encodingOptions) == #"{"ID":"7","TTL":"60"}"#)
    }

    /// Request bodies as curl users write them for etcd: lowerCamel or proto names, enums by
    /// name or number, int64 as a string, and fields the gateway does not know.
    @Test func requestBodiesInEitherNamingDecode() throws {
        let txn = try Etcdserverpb_TxnRequest(
            jsonString: #"{"compare":[{"version":"4","result":"EQUAL","target":"VERSION","key":"Zm9v"}],"#
                + #""success":[{"requestRange":{"key":"Zm9v"}}],"failure":[{"request_put":"#
                + #"{"key":"Zm9v","value":"YmFy","lease":0}}],"unknown_field":1}"#,
            options: GatewayJSON.decodingOptions)
        #expect(txn.compare.count == 1)
        #expect(txn.compare[0].targetUnion == .version(4))
        #expect(txn.compare[0].key == data("foo"))
        #expect(txn.success.first?.requestRange.key == data("foo"))
        #expect(txn.failure.first?.requestPut.value == data("bar"))

        let range = try Etcdserverpb_RangeRequest(
            jsonString: #"{"key":"Zm9v","rangeEnd":"Zm9w","sort_target":2,"limit":10}"#,
            options: GatewayJSON.decodingOptions)
        #expect(range.rangeEnd == data("fop"))
        #expect(range.sortTarget == .create)
        #expect(range.limit == 10)
    }
}

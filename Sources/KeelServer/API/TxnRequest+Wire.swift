import Foundation
import KeelAPI
import KeelMVCC

extension TxnRequest {
    /// The key space's form of a wire TxnRequest, nested Txns included.
    public init(_ wire: Etcdserverpb_TxnRequest) {
        self.init(compare: wire.compare.map(Compare.init), success: wire.success.map(RequestOp.init),
                  failure: wire.failure.map(RequestOp.init))
    }
}

extension Etcdserverpb_TxnRequest {
    /// The wire form of a key space TxnRequest, nested Txns included.
    public init(_ request: TxnRequest) {
        self.init()
        compare = request.compare.map(Etcdserverpb_Compare.init)
        success = request.success.map(Etcdserverpb_RequestOp.init)
        failure = request.failure.map(Etcdserverpb_RequestOp.init)
    }
}

extension Compare {
    /// The key space's form of a wire Compare. As etcd does, `target` picks the field of the
    /// target union that is compared, and a union holding another field (or none) compares
    /// against zero / the empty value.
    ///
    /// A result or target the proto does not define is refused by `KVRequestValidation`
    /// before a request gets here; should one reach this conversion it reads as `.equal` /
    /// `.version`.
    public init(_ wire: Etcdserverpb_Compare) {
        let target: Target
        switch wire.target {
        case .value:
            if case .value(let bytes) = wire.targetUnion { target = .value([UInt8](bytes)) } else { target = .value([]) }
        case .create:
            if case .createRevision(let revision) = wire.targetUnion { target = .create(revision) } else { target = .create(0) }
        case .mod:
            if case .modRevision(let revision) = wire.targetUnion { target = .mod(revision) } else { target = .mod(0) }
        case .lease:
            if case .lease(let id) = wire.targetUnion { target = .lease(LeaseID(id)) } else { target = .lease(.none) }
        case .version, .UNRECOGNIZED:
            if case .version(let version) = wire.targetUnion { target = .version(version) } else { target = .version(0) }
        }
        let result: Result
        switch wire.result {
        case .equal, .UNRECOGNIZED: result = .equal
        case .greater: result = .greater
        case .less: result = .less
        case .notEqual: result = .notEqual
        }
        self.init(key: [UInt8](wire.key), rangeEnd: [UInt8](wire.rangeEnd), target, result)
    }
}

extension Etcdserverpb_Compare {
    /// The wire form of a key space Compare: the target enum and the matching union field.
    public init(_ compare: Compare) {
        self.init()
        key = Data(compare.key)
        rangeEnd = Data(compare.rangeEnd)
        switch compare.result {
        case .equal: result = .equal
        case .greater: result = .greater
        case .less: result = .less
        case .notEqual: result = .notEqual
        }
        switch compare.target {
        case .version(let version): target = .version; targetUnion = .version(version)
        case .create(let revision): target = .create; targetUnion = .createRevision(revision)
        case .mod(let revision): target = .mod; targetUnion = .modRevision(revision)
        case .value(let bytes): target = .value; targetUnion = .value(Data(bytes))
        case .lease(let id): target = .lease; targetUnion = .lease(id.rawValue)
        }
    }
}

extension RequestOp {
    /// The key space's form of a wire RequestOp. An op with no request set (which
    /// `KVRequestValidation` refuses, as etcd does) reads as a Range of the empty key, which
    /// finds nothing and writes nothing.
    public init(_ wire: Etcdserverpb_RequestOp) {
        switch wire.request {
        case .requestRange(let range): self = .range(RangeRequest(range))
        case .requestPut(let put): self = .put(PutRequest(put))
        case .requestDeleteRange(let delete): self = .deleteRange(DeleteRangeRequest(delete))
        case .requestTxn(let txn): self = .txn(TxnRequest(txn))
        case nil: self = .range(RangeRequest(key: []))
        }
    }
}

extension Etcdserverpb_RequestOp {
    /// The wire form of a key space RequestOp.
    public init(_ op: RequestOp) {
        self.init()
        switch op {
        case .range(let range): request = .requestRange(Etcdserverpb_RangeRequest(range))
        case .put(let put): request = .requestPut(Etcdserverpb_PutRequest(put))
        case .deleteRange(let delete): request = .requestDeleteRange(Etcdserverpb_DeleteRangeRequest(delete))
        case .txn(let txn): request = .requestTxn(Etcdserverpb_TxnRequest(txn))
        }
    }
}

extension TxnResponse {
    /// The key space's form of a wire TxnResponse; the revision is the header's.
    public init(_ wire: Etcdserverpb_TxnResponse) {
        self.init(revision: wire.header.revision, succeeded: wire.succeeded, responses: wire.responses.compactMap(ResponseOp.init))
    }
}

extension Etcdserverpb_TxnResponse {
    /// The wire form of a key space TxnResponse under `header` (see
    /// `Etcdserverpb_RangeResponse.init(_:header:)` for the revision). The responses nested
    /// inside carry headers as etcd gives them: a revision only, and an empty header for a
    /// nested Txn.
    public init(_ response: TxnResponse, header: Etcdserverpb_ResponseHeader) {
        self.init()
        self.header = header.filling(revision: response.revision)
        succeeded = response.succeeded
        responses = response.responses.map(Etcdserverpb_ResponseOp.init)
    }
}

extension ResponseOp {
    /// The key space's form of a wire ResponseOp; nil when no response is set.
    public init?(_ wire: Etcdserverpb_ResponseOp) {
        switch wire.response {
        case .responseRange(let range): self = .range(RangeResponse(range))
        case .responsePut(let put): self = .put(PutResponse(put))
        case .responseDeleteRange(let delete): self = .deleteRange(DeleteRangeResponse(delete))
        case .responseTxn(let txn): self = .txn(TxnResponse(txn))
        case nil: return nil
        }
    }
}

extension Etcdserverpb_ResponseOp {
    /// The wire form of a response nested in a Txn, its header carrying only the revision.
    public init(_ op: ResponseOp) {
        self.init()
        switch op {
        case .range(let range):
            response = .responseRange(Etcdserverpb_RangeResponse(range, header: Etcdserverpb_ResponseHeader(revision: range.revision)))
        case .put(let put):
            response = .responsePut(Etcdserverpb_PutResponse(put, header: Etcdserverpb_ResponseHeader(revision: put.revision)))
        case .deleteRange(let delete):
            response = .responseDeleteRange(Etcdserverpb_DeleteRangeResponse(delete, header: Etcdserverpb_ResponseHeader(revision: delete.revision)))
        case .txn(let txn):
            response = .responseTxn(Etcdserverpb_TxnResponse(txn, header: Etcdserverpb_ResponseHeader(revision: txn.revision)))
        }
    }
}

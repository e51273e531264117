import Foundation
import KeelAPI
import KeelMVCC

extension PutRequest {
    /// The key space's form of a wire PutRequest, field for field.
    public init(_ wire: Etcdserverpb_PutRequest) {
        self.init(key: [UInt8](wire.key), value: [UInt8](wire.value), lease: LeaseID(wire.lease),
                  prevKV: wire.prevKv, ignoreValue: wire.ignoreValue, ignoreLease: wire.ignoreLease)
    }
}

extension Etcdserverpb_PutRequest {
    /// The wire form of a key space PutRequest, field for field.
    public init(_ request: PutRequest) {
        self.init()
        key = Data(request.key)
        value = Data(request.value)
        lease = request.lease.rawValue
        prevKv = request.prevKV
        ignoreValue = request.ignoreValue
        ignoreLease = request.ignoreLease
    }
}

extension PutResponse {
    /// The key space's form of a wire PutResponse; the revision is the header's, and an
    /// absent prev_kv is nil.
    public init(_ wire: Etcdserverpb_PutResponse) {
        self.init(revision: wire.header.revision, prevKV: wire.hasPrevKv ? KeyValue(wire.prevKv) : nil)
    }
}

extension Etcdserverpb_PutResponse {
    /// The wire form of a key space PutResponse under `header` (see
    /// `Etcdserverpb_RangeResponse.init(_:header:)` for the revision).
    public init(_ response: PutResponse, header: Etcdserverpb_ResponseHeader) {
        self.init()
        self.header = header.filling(revision: response.revision)
        if let prev = response.prevKV { prevKv = Mvccpb_KeyValue(prev) }
    }
}

extension DeleteRangeRequest {
    /// The key space's form of a wire DeleteRangeRequest, field for field.
    public init(_ wire: Etcdserverpb_DeleteRangeRequest) {
        self.init(key: [UInt8](wire.key), rangeEnd: [UInt8](wire.rangeEnd), prevKV: wire.prevKv)
    }
}

extension Etcdserverpb_DeleteRangeRequest {
    /// The wire form of a key space DeleteRangeRequest, field for field.
    public init(_ request: DeleteRangeRequest) {
        self.init()
        key = Data(request.key)
        rangeEnd = Data(request.rangeEnd)
        prevKv = request.prevKV
    }
}

extension DeleteRangeResponse {
    /// The key space's form of a wire DeleteRangeResponse; the revision is the header's.
    public init(_ wire: Etcdserverpb_DeleteRangeResponse) {
        self.init(revision: wire.header.revision, deleted: wire.deleted, prevKVs: wire.prevKvs.map(KeyValue.init))
    }
}

extension Etcdserverpb_DeleteRangeResponse {
    /// The wire form of a key space DeleteRangeResponse under `header` (see
    /// `Etcdserverpb_RangeResponse.init(_:header:)` for the revision).
    public init(_ response: DeleteRangeResponse, header: Etcdserverpb_ResponseHeader) {
        self.init()
        self.header = header.filling(revision: response.revision)
        deleted = response.deleted
        prevKvs = response.prevKVs.map(Mvccpb_KeyValue.init)
    }
}

extension Etcdserverpb_CompactionResponse {
    /// The wire form of a key space CompactResponse under `header` (see
    /// `Etcdserverpb_RangeResponse.init(_:header:)` for the revision).
    public init(_ response: CompactResponse, header: Etcdserverpb_ResponseHeader) {
        self.init()
        self.header = header.filling(revision: response.revision)
    }
}

extension CompactResponse {
    /// The key space's form of a wire CompactionResponse; the revision is the header's.
    public init(_ wire: Etcdserverpb_CompactionResponse) {
        self.init(revision: wire.header.revision)
    }
}

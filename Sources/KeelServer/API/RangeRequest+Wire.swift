import Foundation
import KeelAPI
import KeelMVCC

extension RangeRequest {
    /// The key space's form of a wire RangeRequest. `serializable` is left out: it decides
    /// where the read is served (locally or after a ReadIndex), which the caller handles.
    ///
    /// Sort options the wire does not name (`UNRECOGNIZED`) are refused by
    /// `KVRequestValidation` before a request gets here; should one reach this conversion, an
    /// unknown order reads as `.none` (what etcd 3.5's apply does with it: it sorts neither
    /// way) and an unknown target as `.key`.
    public init(_ wire: Etcdserverpb_RangeRequest) {
        self.init(key: [UInt8](wire.key), rangeEnd: [UInt8](wire.rangeEnd), limit: wire.limit, revision: wire.revision,
                  sortOrder: SortOrder(wire.sortOrder) ?? SortOrder.none, sortTarget: SortTarget(wire.sortTarget) ?? SortTarget.key,
                  keysOnly: wire.keysOnly, countOnly: wire.countOnly,
                  minModRevision: wire.minModRevision, maxModRevision: wire.maxModRevision,
                  minCreateRevision: wire.minCreateRevision, maxCreateRevision: wire.maxCreateRevision)
    }
}

extension RangeRequest.SortOrder {
    /// nil for an order etcd's proto does not define.
    public init?(_ wire: Etcdserverpb_RangeRequest.SortOrder) {
        switch wire {
        case .none: self = .none
        case .ascend: self = .ascend
        case .descend: self = .descend
        case .UNRECOGNIZED: return nil
        }
    }

    public var wire: Etcdserverpb_RangeRequest.SortOrder {
        switch self {
        case .none: .none
        case .ascend: .ascend
        case .descend: .descend
        }
    }
}

extension RangeRequest.SortTarget {
    /// nil for a target etcd's proto does not define.
    public init?(_ wire: Etcdserverpb_RangeRequest.SortTarget) {
        switch wire {
        case .key: self = .key
        case .version: self = .version
        case .create: self = .create
        case .mod: self = .mod
        case .value: self = .value
        case .UNRECOGNIZED: return nil
        }
    }

    public var wire: Etcdserverpb_RangeRequest.SortTarget {
        switch self {
        case .key: .key
        case .version: .version
        case .create: .create
        case .mod: .mod
        case .value: .value
        }
    }
}

extension Etcdserverpb_RangeRequest {
    /// The wire form of a key space RangeRequest; `serializable` is the caller's to set.
    public init(_ request: RangeRequest, serializable: Bool = false) {
        self.init()
        key = Data(request.key)
        rangeEnd = Data(request.rangeEnd)
        limit = request.limit
        revision = request.revision
        sortOrder = request.sortOrder.wire
        sortTarget = request.sortTarget.wire
        self.serializable = serializable
        keysOnly = request.keysOnly
        countOnly = request.countOnly
        minModRevision = request.minModRevision
        maxModRevision = request.maxModRevision
        minCreateRevision = request.minCreateRevision
        maxCreateRevision = request.maxCreateRevision
    }
}

extension RangeResponse {
    /// The key space's form of a wire RangeResponse; the revision is the header's.
    public init(_ wire: Etcdserverpb_RangeResponse) {
        self.init(revision: wire.header.revision, kvs: wire.kvs.map(KeyValue.init), more: wire.more, count: wire.count)
    }
}

extension Etcdserverpb_RangeResponse {
    /// The wire form of a key space RangeResponse under `header` (cluster, member, raft term
    /// as the caller filled them). The header's revision becomes the response's; only when
    /// that is 0 does the caller's stay, as etcd's header fill does.
    public init(_ response: RangeResponse, header: Etcdserverpb_ResponseHeader) {
        self.init()
        self.header = header.filling(revision: response.revision)
        kvs = response.kvs.map(Mvccpb_KeyValue.init)
        more = response.more
        count = response.count
    }
}

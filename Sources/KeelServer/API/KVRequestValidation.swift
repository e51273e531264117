import KeelAPI

/// The checks etcd's gRPC layer makes on KV requests before it proposes or serves them (its
/// `checkRangeRequest`, `checkPutRequest`, `checkDeleteRequest`, `checkTxnRequest` and
/// `checkIntervals`), in etcd's order, so that a request breaking several rules gets the
/// error etcd would give.
///
/// `check` returns the status to end the call with, nil when the request may go on;
/// `refusal` returns the same outcome as an `EtcdError`. Compaction has no checks here (etcd
/// has none before proposing; the apply loop refuses compacted or future revisions).
public enum KVRequestValidation {
    public static func check(_ request: Etcdserverpb_RangeRequest) -> GRPCStatus? { refusal(request)?.status }
    public static func check(_ request: Etcdserverpb_PutRequest) -> GRPCStatus? { refusal(request)?.status }
    public static func check(_ request: Etcdserverpb_DeleteRangeRequest) -> GRPCStatus? { refusal(request)?.status }
    public static func check(_ request: Etcdserverpb_TxnRequest, limits: RequestLimits) -> GRPCStatus? {
        refusal(request, limits: limits)?.status
    }

    /// An empty key; a sort order or target the proto does not name (etcd 3.6's check).
    public static func refusal(_ request: Etcdserverpb_RangeRequest) -> EtcdError? {
        if request.key.isEmpty { return .emptyKey }
        if case .UNRECOGNIZED = request.sortOrder { return .invalidSortOption }
        if case .UNRECOGNIZED = request.sortTarget { return .invalidSortOption }
        return nil
    }

    /// An empty key; a value given with ignore_value; a lease given with ignore_lease.
    public static func refusal(_ request: Etcdserverpb_PutRequest) -> EtcdError? {
        if request.key.isEmpty { return .emptyKey }
        if request.ignoreValue && !request.value.isEmpty { return .valueProvided }
        if request.ignoreLease && request.lease != 0 { return .leaseProvided }
        return nil
    }

    /// An empty key.
    public static func refusal(_ request: Etcdserverpb_DeleteRangeRequest) -> EtcdError? {
        request.key.isEmpty ? .emptyKey : nil
    }

    /// The Txn's shape first (operation counts, keys, each op's own checks, nested Txns
    /// included), then whether it writes a key twice on either branch. The shape check comes
    /// first so that the write check, which grows with the whole request, only runs on a
    /// request within the operation limits.
    public static func refusal(_ request: Etcdserverpb_TxnRequest, limits: RequestLimits) -> EtcdError? {
        if let refusal = shapeRefusal(request, opsMax: limits.maxTxnOps) { return refusal }
        if TxnWriteCheck.writes(request.success) == nil || TxnWriteCheck.writes(request.failure) == nil {
            return .duplicateKey
        }
        return nil
    }

    /// etcd's checkTxnRequest: the largest of the three lists must fit `opsMax`, and a nested
    /// Txn gets what is left of the budget after its parent's largest list.
    static func shapeRefusal(_ request: Etcdserverpb_TxnRequest, opsMax: Int) -> EtcdError? {
        let opsCount = max(request.compare.count, request.success.count, request.failure.count)
        if opsCount > opsMax { return .tooManyOperations }
        for compare in request.compare {
            if compare.key.isEmpty { return .emptyKey }
            if let refusal = compareRefusal(compare) { return refusal }
        }
        for op in request.success {
            if let refusal = opRefusal(op, opsMax: opsMax - opsCount) { return refusal }
        }
        for op in request.failure {
            if let refusal = opRefusal(op, opsMax: opsMax - opsCount) { return refusal }
        }
        return nil
    }

    /// Keel's own check: a compare result or target the proto does not name. etcd evaluates
    /// such a compare in ways the key space cannot express (an unknown result passes for any
    /// key found), and no etcd client sends one.
    static func compareRefusal(_ compare: Etcdserverpb_Compare) -> EtcdError? {
        if case .UNRECOGNIZED = compare.result { return .invalidCompare }
        if case .UNRECOGNIZED = compare.target { return .invalidCompare }
        return nil
    }

    /// An op with no request set is refused as etcd refuses it, with "key not found".
    static func opRefusal(_ op: Etcdserverpb_RequestOp, opsMax: Int) -> EtcdError? {
        switch op.request {
        case .requestRange(let range): refusal(range)
        case .requestPut(let put): refusal(put)
        case .requestDeleteRange(let delete): refusal(delete)
        case .requestTxn(let txn): shapeRefusal(txn, opsMax: opsMax)
        case nil: .keyNotFound
        }
    }
}

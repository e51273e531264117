extension TxnRequest {
    /// True when no branch, at any depth, puts or deletes: the Txn can be served as a read.
    public var isReadOnly: Bool {
        (success + failure).allSatisfy { op in
            switch op {
            case .range: true
            case .txn(let inner): inner.isReadOnly
            case .put, .deleteRange: false
            }
        }
    }
}

extension KVStore {
    /// A Txn that writes nothing (`TxnRequest.isReadOnly`), served as etcd serves one: as a
    /// read of one published view, on any thread, without a lock and without going through the
    /// log. Its compares, refusals and ranges are those `txn` would evaluate at that view, and
    /// like `txn` of a Txn that changes nothing it makes no revision.
    public func readOnlyTxn(_ request: TxnRequest) -> Result<TxnResponse, MVCCRefusal> {
        precondition(request.isReadOnly, "readOnlyTxn of a Txn that writes")
        return withSnapshot { view, storage in
            let row = { (revision: Revision) in Self.keyValue(revision, overlay: view.overlay, storage: storage) }
            let path = TxnPath(request) { Self.compareHolds($0, index: view.index, atRevision: view.currentRevision, row: row) }
            if let refusal = Self.rangeRefusal(request, path, currentRevision: view.currentRevision,
                                               compactRevision: view.compactRevision) {
                return .failure(refusal)
            }
            let responses = Self.readResponses(request, path, view, row)
            return .success(TxnResponse(revision: view.currentRevision, succeeded: path.succeeded, responses: responses))
        }
    }

    private static func readResponses(_ request: TxnRequest, _ path: TxnPath, _ view: KVStoreReadView,
                                      _ row: (Revision) -> KeyValue) -> [ResponseOp] {
        path.ops(request).enumerated().map { position, op in
            switch op {
            case .range(let range):
                let result = RangeOptions.evaluate(range, index: view.index, currentRevision: view.currentRevision,
                                                   compactRevision: view.compactRevision, row: row)
                guard case .success(let response) = result else { preconditionFailure("a range refused after its checks: \(result)") }
                return .range(response)
            case .txn(let inner):
                return .txn(TxnResponse(revision: 0, succeeded: path.nested[position]!.succeeded,
                                        responses: readResponses(inner, path.nested[position]!, view, row)))
            case .put, .deleteRange:
                preconditionFailure("a write in a read-only Txn")
            }
        }
    }
}

import KeelStorage

/// Which branch each Txn of a request takes: decided before anything is applied, from the key
/// space as it was before the Txn (etcd evaluates nested Txns' compares that way too).
final class TxnPath {
    let succeeded: Bool
    /// The path of each nested Txn in the chosen branch, by its position in the branch.
    let nested: [Int: TxnPath]

    init(_ request: TxnRequest, holds: (Compare) -> Bool) {
        succeeded = request.compare.allSatisfy(holds)
        var nested: [Int: TxnPath] = [:]
        for (position, op) in (succeeded ? request.success : request.failure).enumerated() {
            if case .txn(let inner) = op { nested[position] = TxnPath(inner, holds: holds) }
        }
        self.nested = nested
    }

    /// The ops this path runs at this level.
    func ops(_ request: TxnRequest) -> [RequestOp] { succeeded ? request.success : request.failure }
}

extension KVStore {
    /// etcd's Txn. Refusals, in etcd's order, before anything is applied: `duplicateKey` (a
    /// key written twice, see `TxnChecks`); then, along the branches the compares chose, a put's
    /// `keyNotFound` / `leaseNotFound`; then a range's `futureRevision` / `compacted`. A Txn
    /// that changes nothing makes no revision. Writer thread.
    public func txn(_ request: TxnRequest, applying applied: ConsistentIndex) throws(StorageError) -> Applied<TxnResponse> {
        try perform(applied) { (write: inout KVStoreWrite) throws(StorageError) -> Result<TxnResponse, MVCCRefusal> in
            guard TxnChecks.writesEachKeyOnce(request) else { return .failure(.duplicateKey) }
            let path = TxnPath(request) { compareHolds($0) }
            if let refusal = putRefusal(request, path) ?? rangeRefusal(request, path) { return .failure(refusal) }
            var response = try applyTxn(request, path, &write)
            response.revision = write.readRevision
            return .success(response)
        }
    }

    private func applyTxn(_ request: TxnRequest, _ path: TxnPath, _ write: inout KVStoreWrite) throws(StorageError) -> TxnResponse {
        var responses: [ResponseOp] = []
        for (position, op) in path.ops(request).enumerated() {
            switch op {
            case .range(let range):
                let result = RangeOptions.evaluate(range, index: builder, currentRevision: write.readRevision,
                                                   compactRevision: compactedRevision) { writerKeyValue($0) }
                guard case .success(let response) = result else { preconditionFailure("a range refused after its checks: \(result)") }
                responses.append(.range(response))
            case .put(let put):
                responses.append(.put(try applyPut(put, &write)))
            case .deleteRange(let delete):
                responses.append(.deleteRange(try applyDeleteRange(delete, &write)))
            case .txn(let inner):
                responses.append(.txn(try applyTxn(inner, path.nested[position]!, &write)))
            }
        }
        return TxnResponse(revision: 0, succeeded: path.succeeded, responses: responses)
    }

    /// etcd's checkRequestPut along the path, against the key space before the Txn. One case
    /// goes further than etcd, which panics on it: an ignore_value / ignore_lease put of a key
    /// that an earlier op of the Txn deleted through a range_end of "\0" (which the duplicate
    /// check lets through, see `TxnChecks`) is refused with `keyNotFound` too.
    private func putRefusal(_ request: TxnRequest, _ path: TxnPath) -> MVCCRefusal? {
        var deletedFrom: [[UInt8]] = []
        return putRefusal(request, path, &deletedFrom)
    }

    private func putRefusal(_ request: TxnRequest, _ path: TxnPath, _ deletedFrom: inout [[UInt8]]) -> MVCCRefusal? {
        for (position, op) in path.ops(request).enumerated() {
            switch op {
            case .put(let put):
                if put.ignoreValue || put.ignoreLease {
                    if builder.get(put.key, atRevision: revision) == nil { return .keyNotFound }
                    if deletedFrom.contains(where: { RangeOptions.compareBytes($0, put.key) <= 0 }) { return .keyNotFound }
                }
                if put.lease != .none && !leaseExists(put.lease) { return .leaseNotFound(put.lease) }
            case .deleteRange(let delete):
                if delete.rangeEnd == [0] { deletedFrom.append(delete.key) }
            case .txn(let inner):
                if let refusal = putRefusal(inner, path.nested[position]!, &deletedFrom) { return refusal }
            case .range:
                continue
            }
        }
        return nil
    }

    /// etcd's checkRange along the path: a range's revision must be readable before the Txn.
    private func rangeRefusal(_ request: TxnRequest, _ path: TxnPath) -> MVCCRefusal? {
        Self.rangeRefusal(request, path, currentRevision: revision, compactRevision: compactedRevision)
    }

    static func rangeRefusal(_ request: TxnRequest, _ path: TxnPath, currentRevision: Int64, compactRevision: Int64) -> MVCCRefusal? {
        for (position, op) in path.ops(request).enumerated() {
            switch op {
            case .range(let range):
                if range.revision > currentRevision { return .futureRevision }
                if range.revision > 0 && range.revision < compactRevision { return .compacted(compactRevision: compactRevision) }
            case .txn(let inner):
                if let refusal = rangeRefusal(inner, path.nested[position]!, currentRevision: currentRevision,
                                              compactRevision: compactRevision) { return refusal }
            case .put, .deleteRange:
                continue
            }
        }
        return nil
    }

    /// etcd's applyCompare, before the Txn changed anything (the writer's view).
    func compareHolds(_ compare: Compare) -> Bool {
        Self.compareHolds(compare, index: builder, atRevision: revision) { writerKeyValue($0) }
    }

    /// etcd's applyCompare over `index` at `atRevision`: every key of the range must pass; no
    /// key compares a KeyValue of zeros, except for a value, which then fails.
    static func compareHolds(_ compare: Compare, index: some RangeIndexReading, atRevision: Int64,
                             row: (Revision) -> KeyValue) -> Bool {
        var found = false
        var holds = true
        index.forEach(from: compare.key, to: compare.rangeEnd.isEmpty ? nil : compare.rangeEnd, atRevision: atRevision) { _, modified, created, version in
            found = true
            let kv: KeyValue
            switch compare.target {
            case .value, .lease: kv = row(modified)
            case .version, .create, .mod:
                kv = KeyValue(key: [], createRevision: created.main, modRevision: modified.main, version: version, value: [])
            }
            holds = Self.compare(kv, compare)
            return holds
        }
        if found { return holds }
        if case .value = compare.target { return false }
        return Self.compare(KeyValue(key: [], createRevision: 0, modRevision: 0, version: 0, value: []), compare)
    }

    static func compare(_ kv: KeyValue, _ compare: Compare) -> Bool {
        let order: Int
        switch compare.target {
        case .value(let value): order = RangeOptions.compareBytes(kv.value, value)
        case .version(let version): order = kv.version == version ? 0 : (kv.version < version ? -1 : 1)
        case .create(let created): order = kv.createRevision == created ? 0 : (kv.createRevision < created ? -1 : 1)
        case .mod(let modified): order = kv.modRevision == modified ? 0 : (kv.modRevision < modified ? -1 : 1)
        case .lease(let lease): order = kv.lease == lease ? 0 : (kv.lease < lease ? -1 : 1)
        }
        switch compare.result {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .greater: return order > 0
        case .less: return order < 0
        }
    }
}

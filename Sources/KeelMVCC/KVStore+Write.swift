import KeelStorage

/// What one write did: the response (or the refusal, in which case nothing changed) and the
/// events of the changes, in the order made (all with the same main revision), for the watch
/// engine and the lessor. An event's `prevKV` is filled only where the request asked for
/// prev_kv; `KVStore.previous(_:before:)` gives it otherwise.
public struct Applied<Response: Sendable>: Sendable {
    public var response: Result<Response, MVCCRefusal>
    public var events: [Event]

    public init(response: Result<Response, MVCCRefusal>, events: [Event]) {
        self.response = response
        self.events = events
    }
}

/// One write transaction in progress: the main revision it gets if it changes something, and
/// what it changed so far.
struct KVStoreWrite {
    let main: Int64
    var sub: Int64 = 0
    var events: [Event] = []

    var changed: Bool { sub > 0 }
    /// The revision reads inside the transaction see: its own changes once it made some.
    var readRevision: Int64 { changed ? main : main - 1 }
}

extension KVStore {
    /// etcd's Put. Refusals: `leaseNotFound` (a lease the lessor does not know), `keyNotFound`
    /// (ignore_value or ignore_lease on a key that does not exist). Writer thread.
    public func put(_ request: PutRequest, applying applied: ConsistentIndex) throws(StorageError) -> Applied<PutResponse> {
        try perform(applied) { (write: inout KVStoreWrite) throws(StorageError) -> Result<PutResponse, MVCCRefusal> in
            if request.lease != .none && !leaseExists(request.lease) { return .failure(.leaseNotFound(request.lease)) }
            if (request.ignoreValue || request.ignoreLease) && builder.get(request.key, atRevision: revision) == nil {
                return .failure(.keyNotFound)
            }
            return .success(try applyPut(request, &write))
        }
    }

    /// etcd's DeleteRange: a tombstone for every key of the range that exists. Deleting nothing
    /// makes no revision. Writer thread.
    public func deleteRange(_ request: DeleteRangeRequest, applying applied: ConsistentIndex) throws(StorageError) -> Applied<DeleteRangeResponse> {
        try perform(applied) { (write: inout KVStoreWrite) throws(StorageError) -> Result<DeleteRangeResponse, MVCCRefusal> in
            .success(try applyDeleteRange(request, &write))
        }
    }

    /// Deletes `keys` (those that exist) in one revision, in key order: a lease's revocation.
    /// Returns how many were deleted. Writer thread.
    public func deleteKeys(_ keys: [[UInt8]], applying applied: ConsistentIndex) throws(StorageError) -> Applied<Int64> {
        try perform(applied) { (write: inout KVStoreWrite) throws(StorageError) -> Result<Int64, MVCCRefusal> in
            var deleted: Int64 = 0
            for key in keys.sorted(by: { RangeOptions.compareBytes($0, $1) < 0 }) {
                deleted += try applyDeleteRange(DeleteRangeRequest(key: key), &write).deleted
            }
            return .success(deleted)
        }
    }

    /// Runs one write transaction: `body` changes rows and the index under `write`; then the
    /// revision moves on if something changed, the consistent index is recorded, the B+tree is
    /// committed if enough rows are pending, and the new state is published (at the end of the
    /// batch, inside one).
    func perform<Response>(_ applied: ConsistentIndex,
                           _ body: (inout KVStoreWrite) throws(StorageError) -> Result<Response, MVCCRefusal>) throws(StorageError) -> Applied<Response> {
        _ = try storageTransaction()
        var write = KVStoreWrite(main: revision + 1)
        let response = try body(&write)
        if case .failure = response { precondition(!write.changed, "a refused write changed the key space") }
        if write.changed { revision = write.main }
        try record(applied)
        try commitIfDue()
        if write.changed { publishWrite() }
        return Applied(response: response, events: write.events)
    }

    func applyPut(_ request: PutRequest, _ write: inout KVStoreWrite) throws(StorageError) -> PutResponse {
        let existing = builder.get(request.key, atRevision: write.main)
        var previous: KeyValue?
        if let existing, request.prevKV || request.ignoreValue || request.ignoreLease {
            previous = writerKeyValue(existing.modified)
        }
        let revision = Revision(main: write.main, sub: write.sub)
        let kv = KeyValue(key: request.key, createRevision: existing?.created.main ?? write.main, modRevision: write.main,
                          version: (existing?.version ?? 0) + 1,
                          value: request.ignoreValue ? previous!.value : request.value,
                          lease: request.ignoreLease ? previous!.lease : request.lease)
        try writeRow(revision, tombstone: false, RowCodec.encode(kv))
        builder.put(request.key, revision)
        write.sub += 1
        let shownPrevious = request.prevKV ? previous : nil
        write.events.append(Event(kind: .put, kv: kv, prevKV: shownPrevious))
        return PutResponse(revision: write.main, prevKV: shownPrevious)
    }

    func applyDeleteRange(_ request: DeleteRangeRequest, _ write: inout KVStoreWrite) throws(StorageError) -> DeleteRangeResponse {
        var found: [(key: [UInt8], modified: Revision)] = []
        builder.forEach(from: request.key, to: request.rangeEnd.isEmpty ? nil : request.rangeEnd, atRevision: write.readRevision) { key, modified, _, _ in
            found.append((key, modified))
            return true
        }
        let previous = request.prevKV ? found.map { writerKeyValue($0.modified) } : []
        for (index, entry) in found.enumerated() {
            let revision = Revision(main: write.main, sub: write.sub)
            try writeRow(revision, tombstone: true, RowCodec.encodeTombstone(key: entry.key))
            let ended = builder.tombstone(entry.key, revision)
            precondition(ended, "a key the index listed as live refused its tombstone")
            write.sub += 1
            let kv = KeyValue(key: entry.key, createRevision: 0, modRevision: write.main, version: 0, value: [])
            write.events.append(Event(kind: .delete, kv: kv, prevKV: request.prevKV ? previous[index] : nil))
        }
        return DeleteRangeResponse(revision: write.readRevision, deleted: Int64(found.count), prevKVs: previous)
    }

    /// Adds a row to the open B+tree transaction and to the overlay readers will get.
    func writeRow(_ revision: Revision, tombstone: Bool, _ value: [UInt8]) throws(StorageError) {
        try storageTransaction().put(KVStoreSchema.keyBucket, revision.keyBytes(tombstone: tombstone), value)
        overlay.append(KVStoreOverlay.Row(revision: revision, tombstone: tombstone, value: value))
        pendingRows += 1
        pendingBytes += value.count + 17
    }

    /// The put row at `revision` as the writer sees it (its own uncommitted rows included).
    func writerKeyValue(_ revision: Revision) -> KeyValue {
        if let row = overlay.row(revision) {
            precondition(!row.tombstone, "the index points at tombstone row \(revision)")
            return Self.decodeRow(row.value, revision)
        }
        if let transaction {
            guard let bytes = transaction.get(KVStoreSchema.keyBucket, revision.keyBytes()) else {
                preconditionFailure("the index points at row \(revision), which storage does not hold")
            }
            return Self.decodeRow(bytes, revision)
        }
        let storage = database.beginRead()
        defer { storage.end() }
        return Self.keyValue(revision, overlay: overlay, storage: storage)
    }
}

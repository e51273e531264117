import KeelStorage

extension KVStore {
    /// etcd's Range (see `RangeOptions` for the rules) at the published state. Any thread; never
    /// takes a lock.
    public func range(_ request: RangeRequest) -> Result<RangeResponse, MVCCRefusal> {
        let clock = options.rangeObserver == nil ? nil : options.clock
        let started = clock?() ?? 0
        var indexed: UInt64 = 0
        // One key is a short read: borrow the view. A range may take long, and a borrowed view
        // holds back the release of every view the writer retires meanwhile.
        let result = withSnapshot(borrowing: request.rangeEnd.isEmpty) { view, storage in
            RangeOptions.evaluate(request, index: view.index, currentRevision: view.currentRevision,
                                  compactRevision: view.compactRevision, indexWalked: { indexed = clock?() ?? 0 }) { revision in
                Self.keyValue(revision, overlay: view.overlay, storage: storage)
            }
        }
        if let clock, indexed >= started {
            options.rangeObserver?(indexed - started, clock() - indexed)
        }
        return result
    }

    /// Runs `body` with the published view and a storage read transaction that holds every row
    /// the view's index points to (the reader protocol): the view must still be the published
    /// one once the read transaction has begun. While it was, compaction had deleted no row it
    /// can reach (rows go only after a view with the new compact revision is published), and
    /// its overlay holds every row newer than the commits the read transaction sees.
    ///
    /// With `borrowing`, for short reads, the view is borrowed through `Published.read` rather
    /// than retained: the readers of every thread would otherwise bump the one view's reference
    /// count, a cache line they pass back and forth on each read. A borrowed view holds back
    /// the release of the views the writer retires while `body` runs, so long reads retain it.
    /// The check that the view is still current borrows either way.
    func withSnapshot<Result>(borrowing: Bool = false, _ body: (KVStoreReadView, ReadTransaction) -> Result) -> Result {
        while true {
            let done: Result?
            if borrowing {
                done = published.read { view in snapshot(view, body) }
            } else {
                done = snapshot(published.load(), body)
            }
            if let done { return done }
        }
    }

    /// `body` on `view` and a storage read transaction begun now, if `view` is still the
    /// published one once it has begun; nil otherwise.
    private func snapshot<Result>(_ view: KVStoreReadView, _ body: (KVStoreReadView, ReadTransaction) -> Result) -> Result? {
        let storage = database.beginRead()
        defer { storage.end() }
        // The second test: a replaced database (a raft snapshot installed) is published before the
        // view rebuilt from it, and this read must not pair the old index with the new file.
        guard published.read({ $0 === view }), view.databaseReplacements == database.replacements else { return nil }
        return body(view, storage)
    }

    /// The put row at `revision`, from the overlay or else from storage. The index pointed at
    /// it, so its absence (or a row that is not a KeyValue) means the store is broken.
    static func keyValue(_ revision: Revision, overlay: KVStoreOverlay, storage: ReadTransaction) -> KeyValue {
        if let row = overlay.row(revision) {
            precondition(!row.tombstone, "the index points at tombstone row \(revision)")
            return decodeRow(row.value, revision)
        }
        return storage.withValue(KVStoreSchema.keyBucket, revision.keyBytes()) { bytes in
            guard let bytes else { preconditionFailure("the index points at row \(revision), which storage does not hold") }
            guard let kv = RowCodec.decode(bytes) else { preconditionFailure("row \(revision) is not a KeyValue") }
            return kv
        }
    }

    static func decodeRow(_ bytes: [UInt8], _ revision: Revision) -> KeyValue {
        guard let kv = RowCodec.decode(bytes) else { preconditionFailure("row \(revision) is not a KeyValue") }
        return kv
    }

    /// Every `key` bucket row from `start` up to main revision `through` in revision order,
    /// merging storage (rows older than the overlay) and the overlay, until `body` returns
    /// false. `through` must not exceed the view's revision: storage may hold newer rows.
    static func forEachRow(from start: Revision, through: Int64, view: KVStoreReadView, storage: ReadTransaction,
                           _ body: (_ revision: Revision, _ tombstone: Bool, _ value: UnsafeRawBufferPointer) -> Bool) {
        let overlayStart = view.overlay.firstRevision
        var going = true
        if overlayStart.map({ start < $0 }) ?? true {
            let storageEnd = Revision(main: through + 1)
            storage.scan(KVStoreSchema.keyBucket, from: start.keyBytes(), to: storageEnd.keyBytes()) { key, value in
                guard let revision = Revision(keyBytes: key) else { preconditionFailure("a key bucket key that is no revision: \(Array(key))") }
                if let overlayStart, revision >= overlayStart { return false }
                going = body(revision, Revision.isTombstone(keyBytes: key), value)
                return going
            }
        }
        guard going else { return }
        view.overlay.forEach(from: start) { row in
            guard row.revision.main <= through else { return false }
            return row.value.withUnsafeBytes { body(row.revision, row.tombstone, $0) }
        }
    }
}

/// What a Range reads: the keys of an index (a published version, or the writer's builder
/// with its own changes) and the rows their revisions point at.
protocol RangeIndexReading {
    func forEach(from key: [UInt8], to end: [UInt8]?, atRevision: Int64,
                 _ body: (_ key: [UInt8], _ modified: Revision, _ created: Revision, _ version: Int64) -> Bool)
}

extension IndexVersion: RangeIndexReading {}
extension IndexBuilder: RangeIndexReading {}

/// etcd's Range, computed over any `RangeIndexReading` (etcd's mvcc rangeKeys plus the
/// filtering, sorting and limiting its apply layer does afterwards):
///
/// - revision above the current one: `futureRevision`; 0 or less: the current one; below the
///   compact revision: `compacted`.
/// - `count` is the number of keys the range holds at that revision, before the limit and the
///   filters; `countOnly` returns just it.
/// - With a sort order or a min/max filter everything is fetched, filtered, sorted, then cut to
///   the limit; otherwise limit + 1 keys are fetched in key order. `more` is true when more
///   than `limit` keys remained before the cut. A sort target other than KEY with order NONE
///   sorts ascending, but does not lift the fetch limit (etcd sorts only what it fetched).
/// - Sorting is stable on key order (etcd's sort is not stable; for ties Keel gives key order).
enum RangeOptions {
    static func evaluate(_ request: RangeRequest, index: some RangeIndexReading, currentRevision: Int64,
                         compactRevision: Int64, indexWalked: () -> Void = {},
                         row: (Revision) -> KeyValue) -> Result<RangeResponse, MVCCRefusal> {
        if request.revision > currentRevision { return .failure(.futureRevision) }
        let revision = request.revision <= 0 ? currentRevision : request.revision
        if revision < compactRevision { return .failure(.compacted(compactRevision: compactRevision)) }
        let end: [UInt8]? = request.rangeEnd.isEmpty ? nil : request.rangeEnd

        var fetchLimit = request.limit
        if request.sortOrder != .none || request.minModRevision != 0 || request.maxModRevision != 0
            || request.minCreateRevision != 0 || request.maxCreateRevision != 0 {
            fetchLimit = 0
        }
        if fetchLimit > 0 { fetchLimit += 1 }

        var count: Int64 = 0
        var revisions: [Revision] = []
        index.forEach(from: request.key, to: end, atRevision: revision) { _, modified, _, _ in
            count += 1
            if !request.countOnly && (fetchLimit <= 0 || Int64(revisions.count) < fetchLimit) {
                revisions.append(modified)
            }
            return true
        }
        indexWalked()
        if request.countOnly {
            return .success(RangeResponse(revision: currentRevision, kvs: [], more: false, count: count))
        }
        var kvs = revisions.map(row)
        prune(&kvs, request)
        sort(&kvs, request)
        var more = false
        if request.limit > 0 && kvs.count > Int(request.limit) {
            kvs.removeLast(kvs.count - Int(request.limit))
            more = true
        }
        if request.keysOnly {
            for i in kvs.indices { kvs[i].value = [] }
        }
        return .success(RangeResponse(revision: currentRevision, kvs: kvs, more: more, count: count))
    }

    private static func prune(_ kvs: inout [KeyValue], _ request: RangeRequest) {
        if request.maxModRevision != 0 { kvs.removeAll { $0.modRevision > request.maxModRevision } }
        if request.minModRevision != 0 { kvs.removeAll { $0.modRevision < request.minModRevision } }
        if request.maxCreateRevision != 0 { kvs.removeAll { $0.createRevision > request.maxCreateRevision } }
        if request.minCreateRevision != 0 { kvs.removeAll { $0.createRevision < request.minCreateRevision } }
    }

    private static func sort(_ kvs: inout [KeyValue], _ request: RangeRequest) {
        var order = request.sortOrder
        if request.sortTarget != .key && order == .none { order = .ascend }
        guard order != .none else { return }
        let target = request.sortTarget
        let descending = order == .descend
        // Swift's sort is stable: ties keep the key order the index gave.
        kvs.sort { a, b in
            let comparison = compare(a, b, target)
            return descending ? comparison > 0 : comparison < 0
        }
    }

    private static func compare(_ a: KeyValue, _ b: KeyValue, _ target: RangeRequest.SortTarget) -> Int {
        switch target {
        case .key: return compareBytes(a.key, b.key)
        case .value: return compareBytes(a.value, b.value)
        case .version: return a.version == b.version ? 0 : (a.version < b.version ? -1 : 1)
        case .create: return a.createRevision == b.createRevision ? 0 : (a.createRevision < b.createRevision ? -1 : 1)
        case .mod: return a.modRevision == b.modRevision ? 0 : (a.modRevision < b.modRevision ? -1 : 1)
        }
    }

    /// Unsigned byte order, shorter first on a common prefix (Go's bytes.Compare).
    static func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
        for (x, y) in zip(a, b) where x != y { return x < y ? -1 : 1 }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }
}

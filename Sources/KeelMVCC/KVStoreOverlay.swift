/// The `key` bucket rows written since the last B+tree commit, in revision order, as an
/// immutable value a read view carries: a reader finds a row here first, else in its storage
/// read transaction.
///
/// Rows sit in sealed chunks of `chunkRowsMax` shared by reference, plus a short tail, so a
/// copy for a new view costs at most one tail and one array of chunk references, however many
/// rows are pending.
struct KVStoreOverlay: Sendable {
    struct Row: Sendable {
        let revision: Revision
        let tombstone: Bool
        /// The encoded KeyValue (see `RowCodec`).
        let value: [UInt8]
    }

    final class Chunk: Sendable {
        let rows: [Row]
        init(_ rows: [Row]) { self.rows = rows }
    }

    static let chunkRowsMax = 64

    private(set) var chunks: [Chunk] = []
    private(set) var tail: [Row] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// The oldest row's revision; nil when empty.
    var firstRevision: Revision? { chunks.first?.rows.first?.revision ?? tail.first?.revision }

    /// Appends a row; revisions must ascend.
    mutating func append(_ row: Row) {
        if let last = tail.last ?? chunks.last?.rows.last {
            precondition(last.revision < row.revision, "overlay rows out of order: \(row.revision) after \(last.revision)")
        }
        tail.append(row)
        count += 1
        if tail.count == Self.chunkRowsMax {
            chunks.append(Chunk(tail))
            tail = []
        }
    }

    mutating func removeAll() {
        chunks = []
        tail = []
        count = 0
    }

    /// The row at `revision`, put or tombstone.
    func row(_ revision: Revision) -> Row? {
        guard let first = firstRevision, first <= revision else { return nil }
        if let head = tail.first, head.revision <= revision { return Self.find(revision, in: tail) }
        // The last chunk whose first row is at or below the revision.
        var low = 0
        var high = chunks.count
        while low < high {
            let middle = (low + high) / 2
            if chunks[middle].rows[0].revision <= revision { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : Self.find(revision, in: chunks[low - 1].rows)
    }

    private static func find(_ revision: Revision, in rows: [Row]) -> Row? {
        var low = 0
        var high = rows.count
        while low < high {
            let middle = (low + high) / 2
            if rows[middle].revision < revision { low = middle + 1 } else { high = middle }
        }
        return low < rows.count && rows[low].revision == revision ? rows[low] : nil
    }

    /// Every row from `start` on, in revision order, until `body` returns false.
    func forEach(from start: Revision, _ body: (Row) -> Bool) {
        for chunk in chunks where chunk.rows[chunk.rows.count - 1].revision >= start {
            for row in chunk.rows where row.revision >= start {
                if !body(row) { return }
            }
        }
        for row in tail where row.revision >= start {
            if !body(row) { return }
        }
    }
}

import Foundation
import KeelAPI

/// etcd's checkIntervals on the wire form of a Txn branch: whether the ops write some key
/// twice. The same rule as KeelMVCC's apply-time check, made here so that a bad Txn is
/// refused before it costs a raft round:
///
/// - two puts of one key conflict, a put inside a range deleted on the same level conflicts,
///   two deletes never do;
/// - a nested Txn's puts join its parent's (a key put on both of its branches counts once,
///   only one branch runs); its deletes join after its own puts were checked, so they cover
///   the puts of the nested Txns after it and the puts of this level.
///
/// A deleted range is [key, range_end) by unsigned byte order, a single key when range_end is
/// empty. As in etcd's interval tree, a range_end of "\0" ("every key from key on") covers no
/// put here.
enum TxnWriteCheck {
    /// The keys `ops` put and the ranges they delete; nil when a key is written twice.
    static func writes(_ ops: [Etcdserverpb_RequestOp]) -> (puts: Set<Data>, deletes: DeletedRanges)? {
        var deletes = DeletedRanges()
        for op in ops {
            guard case .requestDeleteRange(let delete) = op.request else { continue }
            deletes.insert(begin: delete.key, end: delete.rangeEnd.isEmpty ? nil : delete.rangeEnd)
        }
        var puts = Set<Data>()
        for op in ops {
            guard case .requestTxn(let nested) = op.request else { continue }
            guard let then = writes(nested.success), let otherwise = writes(nested.failure) else { return nil }
            for key in then.puts {
                if puts.contains(key) || deletes.contains(key) { return nil }
                puts.insert(key)
            }
            for key in otherwise.puts {
                if puts.contains(key) && !then.puts.contains(key) { return nil }
                if deletes.contains(key) { return nil }
                puts.insert(key)
            }
            deletes.formUnion(then.deletes)
            deletes.formUnion(otherwise.deletes)
        }
        for op in ops {
            guard case .requestPut(let put) = op.request else { continue }
            if puts.contains(put.key) || deletes.contains(put.key) { return nil }
            puts.insert(put.key)
        }
        return (puts, deletes)
    }
}

/// A set of deleted key ranges that answers "is this key inside one of them?".
///
/// A few ranges are scanned; past `scanCountMax` a sorted index (ranges by begin, with the
/// largest end so far) answers in O(log n), rebuilt only when ranges were added since the
/// last question. This keeps a Txn of many nested deletes and puts from costing
/// deletes × puts comparisons, as etcd's interval tree does.
struct DeletedRanges {
    /// [begin, end) by unsigned byte order; a single key is [key, key + "\0").
    private var ranges: [(begin: Data, end: Data)] = []
    private var sortedBegins: [Data] = []
    private var endsMaxSoFar: [Data] = []
    private var indexedCount = 0
    private static let scanCountMax = 16

    mutating func insert(begin: Data, end: Data?) {
        ranges.append((begin, end ?? begin + [0]))
    }

    mutating func formUnion(_ other: DeletedRanges) {
        ranges += other.ranges
    }

    mutating func contains(_ key: Data) -> Bool {
        if ranges.count <= Self.scanCountMax {
            return ranges.contains { compareBytes($0.begin, key) <= 0 && compareBytes(key, $0.end) < 0 }
        }
        if indexedCount != ranges.count { rebuildIndex() }
        // The last range beginning at or before `key`: some range up to it contains `key`
        // exactly when the largest end among them lies above `key`.
        var low = 0
        var high = sortedBegins.count
        while low < high {
            let middle = (low + high) / 2
            if compareBytes(sortedBegins[middle], key) <= 0 { low = middle + 1 } else { high = middle }
        }
        return low > 0 && compareBytes(key, endsMaxSoFar[low - 1]) < 0
    }

    private mutating func rebuildIndex() {
        let sorted = ranges.sorted { compareBytes($0.begin, $1.begin) < 0 }
        sortedBegins = sorted.map(\.begin)
        endsMaxSoFar = []
        endsMaxSoFar.reserveCapacity(sorted.count)
        for range in sorted {
            let previous = endsMaxSoFar.last
            endsMaxSoFar.append(previous.map { compareBytes($0, range.end) >= 0 ? $0 : range.end } ?? range.end)
        }
        indexedCount = ranges.count
    }
}

/// Unsigned byte order of two byte strings: negative, zero or positive.
func compareBytes(_ a: Data, _ b: Data) -> Int {
    let common = min(a.count, b.count)
    let order = a.withUnsafeBytes { aBytes in
        b.withUnsafeBytes { bBytes in
            common == 0 ? 0 : Int(memcmp(aBytes.baseAddress!, bBytes.baseAddress!, common))
        }
    }
    return order != 0 ? order : a.count - b.count
}

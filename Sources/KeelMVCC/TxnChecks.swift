/// etcd's refusal of a Txn that writes one key twice (its checkIntervals), decided from the
/// request alone before anything is applied.
///
/// Each of `success` and `failure` is checked on its own (only one of them runs). Within a
/// list: two puts of one key conflict, and a put inside a deleted range conflicts; two deletes
/// never do. A nested Txn's puts join its parent's, except that a key put in both the nested
/// `success` and `failure` counts once (only one runs); its deletes join the parent's too.
///
/// A deleted range is [key, range_end) compared as raw bytes, exactly as etcd's interval tree
/// does: so a range_end of "\0" (meaning "every key from key") covers no put here, and etcd
/// accepts a Txn that deletes from a key onwards and puts a key above it. Keel keeps that.
enum TxnChecks {
    /// True when the Txn writes no key twice.
    static func writesEachKeyOnce(_ request: TxnRequest) -> Bool {
        intervals(request.success) != nil && intervals(request.failure) != nil
    }

    /// A deleted interval: one key (`end` nil) or [begin, end) by unsigned byte order.
    struct Interval {
        var begin: [UInt8]
        var end: [UInt8]?

        func contains(_ key: [UInt8]) -> Bool {
            guard let end else { return key == begin }
            return RangeOptions.compareBytes(begin, key) <= 0 && RangeOptions.compareBytes(key, end) < 0
        }
    }

    /// The keys `ops` put and the ranges it deletes; nil when a key is written twice.
    static func intervals(_ ops: [RequestOp]) -> (puts: Set<[UInt8]>, deletes: [Interval])? {
        var deletes: [Interval] = []
        for case .deleteRange(let delete) in ops {
            deletes.append(Interval(begin: delete.key, end: delete.rangeEnd.isEmpty ? nil : delete.rangeEnd))
        }
        func deleted(_ key: [UInt8]) -> Bool { deletes.contains { $0.contains(key) } }

        var puts = Set<[UInt8]>()
        for case .txn(let nested) in ops {
            guard let then = intervals(nested.success), let otherwise = intervals(nested.failure) else { return nil }
            for key in then.puts {
                if puts.contains(key) || deleted(key) { return nil }
                puts.insert(key)
            }
            for key in otherwise.puts {
                if puts.contains(key) && !then.puts.contains(key) { return nil }
                if deleted(key) { return nil }
                puts.insert(key)
            }
            // As etcd: a nested Txn's deletes join after its own puts were checked, so they
            // cover the puts of the nested Txns after it and of this level, not its own.
            deletes += then.deletes + otherwise.deletes
        }
        for case .put(let put) in ops {
            if puts.contains(put.key) || deleted(put.key) { return nil }
            puts.insert(put.key)
        }
        return (puts, deletes)
    }
}

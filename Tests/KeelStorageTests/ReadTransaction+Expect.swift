@testable import KeelStorage

extension ReadTransaction {
    /// Scans `bucket` over [start, end), stopping after `limit` entries, and says how it
    /// differs from `expected` (nil when it matches). The scanned bytes are compared in place:
    /// nothing is copied out of the body.
    func scanMismatch(_ bucket: [UInt8], from start: [UInt8] = [], to end: [UInt8]? = nil, limit: Int = .max,
                      expected: [(key: [UInt8], value: [UInt8])]) -> String? {
        var index = 0
        var mismatch: String?
        scan(bucket, from: start, to: end) { key, value in
            guard index < expected.count else {
                mismatch = "entry \(index) is key \(TestBytes.hex(key)), the model has only \(expected.count)"
                return false
            }
            if !TestBytes.equal(key, expected[index].key) {
                mismatch = "entry \(index) is key \(TestBytes.hex(key)), the model has \(TestBytes.hex(expected[index].key))"
                return false
            }
            if !TestBytes.equal(value, expected[index].value) {
                mismatch = "entry \(index) key \(TestBytes.hex(key)) has value \(TestBytes.summary(value)), the model has \(TestBytes.summary(expected[index].value))"
                return false
            }
            index += 1
            return index < limit
        }
        if mismatch == nil && index != expected.count {
            mismatch = "the scan gave \(index) entries, the model has \(expected.count)"
        }
        return mismatch
    }
}

/// The model of one bucket: its keys in bytewise order beside a dictionary of their values.
/// Iteration always goes through the sorted keys, never the dictionary's order.
struct SortedBucket {
    private(set) var keys: [[UInt8]] = []
    private(set) var values: [[UInt8]: [UInt8]] = [:]

    var count: Int { keys.count }

    /// The index of the first key >= `key` (`count` when there is none).
    func lowerBound(_ key: [UInt8]) -> Int {
        var low = 0, high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if TestBytes.compare(keys[middle], key) < 0 { low = middle + 1 } else { high = middle }
        }
        return low
    }

    func get(_ key: [UInt8]) -> [UInt8]? { values[key] }

    mutating func put(_ key: [UInt8], _ value: [UInt8]) {
        if values.updateValue(value, forKey: key) == nil { keys.insert(key, at: lowerBound(key)) }
    }

    mutating func delete(_ key: [UInt8]) {
        if values.removeValue(forKey: key) != nil { keys.remove(at: lowerBound(key)) }
    }

    /// The entry at `index` in key order, nil outside 0..<count.
    func entry(at index: Int) -> (key: [UInt8], value: [UInt8])? {
        guard index >= 0 && index < keys.count else { return nil }
        return (keys[index], values[keys[index]]!)
    }

    /// At most `limit` entries with keys in [start, end), ascending.
    func entries(from start: [UInt8] = [], to end: [UInt8]? = nil, limit: Int = .max) -> [(key: [UInt8], value: [UInt8])] {
        var result: [(key: [UInt8], value: [UInt8])] = []
        var index = lowerBound(start)
        while index < keys.count && result.count < limit {
            if let end, TestBytes.compare(keys[index], end) >= 0 { break }
            result.append((keys[index], values[keys[index]]!))
            index += 1
        }
        return result
    }
}

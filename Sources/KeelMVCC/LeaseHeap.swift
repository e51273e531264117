/// A min-heap of leases by a time in nanoseconds, holding at most one entry per lease: setting a
/// lease's time again moves its entry (etcd's LeaseExpiredNotifier keeps the same shape). Ties
/// break by lease id so that the order never depends on insertion history.
struct LeaseHeap {
    private var entries: [(time: Int64, id: LeaseID)] = []
    private var positions: [LeaseID: Int] = [:]

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// The earliest entry, nil when empty.
    var first: (time: Int64, id: LeaseID)? { entries.first }

    func time(of id: LeaseID) -> Int64? { positions[id].map { entries[$0].time } }

    /// Inserts `id` at `time`, or moves its entry there.
    mutating func set(_ id: LeaseID, time: Int64) {
        if let index = positions[id] {
            entries[index].time = time
            siftDown(siftUp(index))
        } else {
            entries.append((time, id))
            positions[id] = entries.count - 1
            _ = siftUp(entries.count - 1)
        }
        assert(positions[id].map { entries[$0].id == id } ?? false)
    }

    mutating func remove(_ id: LeaseID) {
        guard let index = positions.removeValue(forKey: id) else { return }
        let last = entries.removeLast()
        guard index < entries.count else { return }
        entries[index] = last
        positions[last.id] = index
        siftDown(siftUp(index))
    }

    mutating func removeAll() {
        entries.removeAll()
        positions.removeAll()
    }

    private static func precedes(_ a: (time: Int64, id: LeaseID), _ b: (time: Int64, id: LeaseID)) -> Bool {
        a.time != b.time ? a.time < b.time : a.id < b.id
    }

    private mutating func swapAt(_ i: Int, _ j: Int) {
        entries.swapAt(i, j)
        positions[entries[i].id] = i
        positions[entries[j].id] = j
    }

    /// Moves the entry at `index` up while it precedes its parent; returns where it ended.
    private mutating func siftUp(_ index: Int) -> Int {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(entries[child], entries[parent]) else { break }
            swapAt(child, parent)
            child = parent
        }
        return child
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            var smallest = parent
            for child in [2 * parent + 1, 2 * parent + 2] where child < entries.count {
                if Self.precedes(entries[child], entries[smallest]) { smallest = child }
            }
            if smallest == parent { return }
            swapAt(parent, smallest)
            parent = smallest
        }
    }
}

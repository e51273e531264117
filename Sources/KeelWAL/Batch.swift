/// One group-commit batch: encoded records in an aligned buffer, and what the writer must
/// know about them. Appenders fill the pending one while the writer has others on the disk;
/// the buffers are reused, never allocated per batch.
final class Batch {
    private(set) var storage: UnsafeMutableRawBufferPointer
    private(set) var bytes = 0
    private(set) var records = 0
    /// The ticket of the last append call whose records all lie in this or an earlier batch.
    var lastTicket: UInt64 = 0
    private(set) var firstEntryIndex: LogIndex?
    private(set) var lastEntryIndex: LogIndex?
    private(set) var lastHardState: HardState?
    private(set) var lastSnapshot: SnapshotMarker?

    init(capacity: Int) {
        storage = .allocate(byteCount: capacity, alignment: 4096)
    }

    deinit { storage.deallocate() }

    var isEmpty: Bool { bytes == 0 }
    var contents: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<bytes]) }

    /// Copies a prepared record in, growing the buffer only for a record larger than it.
    func add(_ record: PreparedRecord) {
        if bytes + record.encodedSize > storage.count {
            precondition(bytes == 0, "batch overflow: the caller checks the limit")
            storage.deallocate()
            storage = .allocate(byteCount: record.encodedSize, alignment: 4096)
        }
        record.write(to: storage.baseAddress! + bytes)
        bytes += record.encodedSize
        records += 1
    }

    func note(_ record: WALRecord) {
        switch record {
        case .entry(let entry):
            if firstEntryIndex == nil { firstEntryIndex = entry.index }
            lastEntryIndex = entry.index
        case .hardState(let state): lastHardState = state
        case .snapshot(let marker): lastSnapshot = marker
        }
    }

    /// Empties the batch, keeping its buffer (shrunk back if one huge record grew it).
    func reset(capacity: Int) {
        if storage.count > capacity {
            storage.deallocate()
            storage = .allocate(byteCount: capacity, alignment: 4096)
        }
        bytes = 0
        records = 0
        firstEntryIndex = nil
        lastEntryIndex = nil
        lastHardState = nil
        lastSnapshot = nil
    }
}

#if canImport(Glibc)
import Glibc
#endif
import KeelIO

extension WAL {
    /// Opens the WAL in `directory` (creating the directory and a first segment when there is
    /// none), verifies every record, and returns the WAL ready to append after the last record
    /// together with what replay found: the last hard state, the last snapshot marker and
    /// every entry after `snapshotIndex`.
    ///
    /// A torn or zero-filled tail of the last segment (the last group-commit write, cut short
    /// by a crash) is truncated and logged; it was never acknowledged. Damage anywhere else —
    /// a non-last segment, or a bad record followed further on by valid ones — refuses to
    /// open with `.corrupt` naming the segment and offset. No corrupt record is ever returned.
    public static func open(directory: String, after snapshotIndex: LogIndex = .zero,
                            options: WALOptions = WALOptions()) throws(WALError) -> (WAL, WALReplay) {
        options.validate()
        do {
            try Syscalls.makeDirectory(directory)
        } catch {
            throw .io(error)
        }
        let names = try listSegments(directory)
        var replay = ReplayState(after: snapshotIndex)
        guard let lastName = names.last else {
            let first = SegmentName(sequence: 0, firstIndex: snapshotIndex.next)
            do {
                let start = try createSegment(first, in: directory, capacity: options.segmentBytes,
                                              prepared: nil, hardState: nil, snapshot: nil)
                let file = try DurableFile(path: directory + "/" + first.fileName, create: false, backend: options.backend)
                let wal = WAL(directory: directory, options: options, file: file, segments: [first], position: start,
                              capacity: options.segmentBytes, replay: replay.result, lastEntryIndex: snapshotIndex)
                return (wal, replay.result)
            } catch {
                throw .io(error)
            }
        }
        var tail: (end: Int64, capacity: Int64) = (0, 0)
        for name in names {
            let path = directory + "/" + name.fileName
            tail = try replaySegment(name, path: path, isLast: name == lastName, into: &replay, options: options)
        }
        try replay.checkStart()
        do {
            let file = try DurableFile(path: directory + "/" + lastName.fileName, create: false, backend: options.backend)
            let wal = WAL(directory: directory, options: options, file: file, segments: names, position: tail.end,
                          capacity: tail.capacity, replay: replay.result, lastEntryIndex: replay.lastIndex ?? snapshotIndex)
            return (wal, replay.result)
        } catch {
            throw .io(error)
        }
    }

    /// The segment files in sequence order. Leftover `.tmp` files (a crash while creating a
    /// segment) are removed; a gap in the sequence is an error.
    private static func listSegments(_ directory: String) throws(WALError) -> [SegmentName] {
        var names: [SegmentName] = []
        do {
            for file in try Syscalls.listDirectory(directory) {
                if file.hasSuffix(SegmentName.suffix + ".tmp") {
                    try Syscalls.unlink(directory + "/" + file)
                } else if let name = SegmentName(fileName: file) {
                    names.append(name)
                }
            }
        } catch {
            throw .io(error)
        }
        names.sort()
        for (a, b) in zip(names, names.dropFirst()) where b.sequence != a.sequence + 1 {
            throw .inconsistent("segment \(b.fileName) follows \(a.fileName): a segment is missing")
        }
        return names
    }

    /// Reads and verifies one segment into `replay`. Returns, for the last segment, where
    /// the next record goes and the file's size.
    private static func replaySegment(_ name: SegmentName, path: String, isLast: Bool, into replay: inout ReplayState,
                                      options: WALOptions) throws(WALError) -> (end: Int64, capacity: Int64) {
        var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        defer { buffer.deallocate() }
        do throws(IOError) {
            let fd = try Syscalls.open(path, flags: O_RDONLY)
            defer { Syscalls.close(fd) }
            let size = try Syscalls.fileSize(fd, path: path)
            buffer = .allocate(byteCount: Int(size), alignment: 8)
            let count = try Syscalls.preadAll(fd, buffer, offset: 0, path: path)
            guard count == Int(size) else { throw IOError(operation: "read", errno: .ioError, path: path, offset: Int64(count)) }
        } catch {
            throw .io(error)
        }
        let raw = UnsafeRawBufferPointer(buffer)
        let (stop, prefixBytes) = try decodeRecords(raw, segment: name, into: &replay)
        guard let stop else { return (Int64(raw.count), Int64(raw.count)) }
        // The records a segment was created with were durable before it had its name:
        // damage there is never a torn write.
        guard isLast, stop.offset >= prefixBytes else {
            throw .corrupt(segment: name.fileName, offset: Int64(stop.offset), reason: stop.reason)
        }
        try checkTail(raw, segment: name, stop: stop)
        if !isAllZero(raw, from: stop.offset) {
            try repairTail(path: path, at: Int64(stop.offset), size: Int64(raw.count))
            options.log("truncated a torn tail of \(name.fileName) at offset \(stop.offset) (\(stop.reason))")
            replay.repairedTail = TailRepair(segment: name.fileName, offset: Int64(stop.offset), reason: stop.reason)
        }
        return (Int64(stop.offset), Int64(raw.count))
    }

    /// Whether every byte of `raw` from `offset` on is zero: the preallocated rest of the last
    /// segment is tens of MiB, so it is compared with a zero block by memcmp rather than byte by
    /// byte (which made a debug build's restart take seconds).
    static func isAllZero(_ raw: UnsafeRawBufferPointer, from offset: Int) -> Bool {
        let blockBytes = 64 * 1024
        let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: blockBytes, alignment: 8)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        var position = offset
        while position < raw.count {
            let length = min(blockBytes, raw.count - position)
            if memcmp(raw.baseAddress! + position, zeros.baseAddress!, length) != 0 { return false }
            position += length
        }
        return true
    }

    /// Where and why decoding a segment stopped before its end.
    struct Stop {
        var offset: Int
        var reason: String
        /// The size the damaged record claims, when its header verified.
        var recordBytes: Int
    }

    /// Applies every record of a segment in order; returns where it stopped early (nil when
    /// every byte up to the end was a verified record) and the size of the segment's prefix.
    private static func decodeRecords(_ raw: UnsafeRawBufferPointer, segment name: SegmentName,
                                      into replay: inout ReplayState) throws(WALError) -> (Stop?, prefixBytes: Int) {
        var offset = 0
        var prefixBytes = SegmentHeader.encodedSize
        while true {
            let stop: Stop
            switch RecordDecoder.decode(raw, at: offset) {
            case .end where offset >= prefixBytes:
                return (nil, prefixBytes)
            case .end:
                stop = Stop(offset: offset, reason: "the segment ends inside its header records", recordBytes: 0)
            case .zeros:
                stop = Stop(offset: offset, reason: "unwritten space", recordBytes: 0)
            case .truncated(let size):
                stop = Stop(offset: offset, reason: "a record of \(size) bytes cut short", recordBytes: size)
            case .invalid(let reason):
                stop = Stop(offset: offset, reason: reason, recordBytes: 0)
            case .record(let record, let next):
                if offset == 0 {
                    guard case .segmentHeader(let header) = record, header.sequence == name.sequence,
                          header.firstIndex == name.firstIndex
                    else {
                        throw .corrupt(segment: name.fileName, offset: 0, reason: "missing or mismatched segment header")
                    }
                    prefixBytes = header.prefixBytes
                } else {
                    guard case .record(let walRecord) = record else {
                        throw .corrupt(segment: name.fileName, offset: Int64(offset), reason: "a segment header inside the segment")
                    }
                    try replay.apply(walRecord, segment: name.fileName, offset: offset)
                }
                offset = next
                continue
            }
            return (stop, prefixBytes)
        }
    }

    /// Decides whether damage in the last segment comes from torn final writes. The writes in
    /// flight at the crash started at or before the damage and carried at most
    /// `batchBytesCeiling` bytes together (or one larger record), so no verifiable record can
    /// lie further on unless older, acknowledged data was damaged — which must not be silently
    /// dropped.
    private static func checkTail(_ raw: UnsafeRawBufferPointer, segment name: SegmentName, stop: Stop) throws(WALError) {
        let window = max(RecordFormat.batchBytesCeiling, stop.recordBytes)
        let from = stop.offset + window
        guard from < raw.count else { return }
        if let later = RecordDecoder.firstValidRecord(raw, in: from..<raw.count) {
            throw .corrupt(segment: name.fileName, offset: Int64(stop.offset),
                           reason: "\(stop.reason), and a valid record follows at offset \(later)")
        }
    }

    /// Overwrites everything from `offset` to `size` with zeros, so that what follows the last
    /// good record reads as unwritten space again.
    private static func repairTail(path: String, at offset: Int64, size: Int64) throws(WALError) {
        do {
            let fd = try Syscalls.open(path, flags: O_RDWR)
            defer { Syscalls.close(fd) }
            try Syscalls.zeroFill(fd, offset..<size, path: path)
            try Syscalls.fsync(fd, path: path)
        } catch {
            throw .io(error)
        }
    }
}

/// The log as replay rebuilds it, record by record.
struct ReplayState {
    let after: LogIndex
    var hardState: HardState?
    var snapshot: SnapshotMarker?
    var entries: [WALEntry] = []
    /// The index of the last entry seen, including those at or before `after`.
    var lastIndex: LogIndex?
    var repairedTail: TailRepair?

    init(after: LogIndex) { self.after = after }

    /// The first entry, when it starts after `after.next` (see `checkStart`).
    var firstEntryIndex: LogIndex?

    /// A log that starts after `after.next` is whole only from the newest snapshot marker on,
    /// and only if that marker reaches the entry before its first one.
    func checkStart() throws(WALError) {
        guard let first = firstEntryIndex else { return }
        let start = max(after, snapshot?.index ?? after)
        guard first <= start.next else {
            throw .inconsistent("the log starts at entry \(first), after snapshot index \(start): entries are missing")
        }
    }

    var result: WALReplay {
        WALReplay(hardState: hardState, snapshot: snapshot, entries: entries, repairedTail: repairedTail)
    }

    mutating func apply(_ record: WALRecord, segment: String, offset: Int) throws(WALError) {
        switch record {
        case .hardState(let state): hardState = state
        case .snapshot(let marker):
            snapshot = marker
            // A follower that installed a leader's snapshot continues after it: the entries it
            // had all lie at or below the marker and are superseded, and the next entry is the
            // one after the marker.
            if let last = lastIndex, marker.index > last {
                entries.removeAll()
                lastIndex = marker.index
            }
        case .entry(let entry):
            if let lastIndex {
                guard entry.index <= lastIndex.next else {
                    throw .inconsistent("entry \(entry.index) follows entry \(lastIndex) in \(segment) at offset \(offset)")
                }
            } else if entry.index > after.next {
                // Segments before this one were released, or a follower's log begins with a
                // leader's snapshot: valid if a marker at or past the entry before it comes
                // (`checkStart`, once every record is read).
                firstEntryIndex = entry.index
            }
            // An index at or below the last one rewrites the log from there (raft replaced a
            // follower's conflicting suffix).
            if let first = entries.first, entry.index <= entries.last!.index {
                let keep = entry.index.rawValue >= first.index.rawValue ? Int(entry.index.rawValue - first.index.rawValue) : 0
                entries.removeSubrange(keep...)
            }
            lastIndex = entry.index
            if entry.index > after { entries.append(entry) }
        }
    }
}

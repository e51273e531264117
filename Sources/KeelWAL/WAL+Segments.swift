#if canImport(Glibc)
import Glibc
#endif
import KeelIO

extension WAL {
    /// Creates segment `name` durably and returns where its first record after the header
    /// records goes: the file is made under a temporary name, preallocated and zero-filled
    /// (or taken ready-made from `prepared`), given its header records (segment header, then
    /// the hard state and snapshot marker in force, so that releasing older segments never
    /// loses them), fsynced, renamed into place, and the directory fsynced. A crash at any
    /// point leaves either no segment or a complete one.
    static func createSegment(_ name: SegmentName, in directory: String, capacity: Int64, prepared: String?,
                              hardState: HardState?, snapshot: SnapshotMarker?) throws(IOError) -> Int64 {
        var state: [PreparedRecord] = []
        if let hardState { state.append(PreparedRecord(.hardState(hardState))) }
        if let snapshot { state.append(PreparedRecord(.snapshot(snapshot))) }
        let prefixBytes = state.reduce(SegmentHeader.encodedSize) { $0 + $1.encodedSize }
        let header = PreparedRecord.segmentHeader(sequence: name.sequence, firstIndex: name.firstIndex, prefixBytes: prefixBytes)
        precondition(header.encodedSize == SegmentHeader.encodedSize)
        let prefix = [header] + state

        let finalPath = directory + "/" + name.fileName
        let temporaryPath = prepared ?? finalPath + ".tmp"
        do {
            if prepared == nil {
                try SegmentPreparation.make(path: temporaryPath, capacity: max(capacity, Int64(prefixBytes)))
            }
            let fd = try Syscalls.open(temporaryPath, flags: O_RDWR, mode: 0o600)
            defer { Syscalls.close(fd) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: prefixBytes, alignment: 8)
            defer { buffer.deallocate() }
            var at = 0
            for record in prefix {
                record.write(to: buffer.baseAddress! + at)
                at += record.encodedSize
            }
            try Syscalls.pwriteAll(fd, UnsafeRawBufferPointer(buffer), offset: 0, path: temporaryPath)
            try Syscalls.fsync(fd, path: temporaryPath)
        } catch {
            try? Syscalls.unlink(temporaryPath)
            throw error
        }
        try Syscalls.rename(temporaryPath, finalPath)
        try Syscalls.syncDirectory(directory)
        return Int64(prefixBytes)
    }

    /// Closes the current segment at its written length and starts the next one. Runs on the
    /// writer thread; appenders keep filling the pending batch meanwhile.
    func cutSegment(firstIndex: LogIndex, batchBytes: Int) throws(IOError) {
        // The old segment ends exactly at its last record: replay then knows that anything
        // short of the end of a non-last segment is damage, not unwritten space.
        try file.truncate(to: position)
        try file.syncAll()
        let previous = lock.withLock { segments.last! }
        let name = SegmentName(sequence: previous.sequence + 1, firstIndex: firstIndex)
        let needed = Int64(batchBytes + 4096)
        let prepared = preparation?.take(atLeast: needed)
        let size = prepared != nil ? preparation!.capacity : max(options.segmentBytes, needed)
        let start = try Self.createSegment(name, in: directory, capacity: size, prepared: prepared,
                                           hardState: writtenHardState, snapshot: writtenSnapshot)
        file = try DurableFile(path: directory + "/" + name.fileName, create: false, backend: options.backend)
        // Start on the next file, unless the prepared one went unused (this batch was too
        // large for it) and can serve the next cut.
        if prepared != nil || preparation?.isReady != true {
            preparation = SegmentPreparation(directory: directory, capacity: options.segmentBytes)
        }
        position = start
        capacity = size
        lock.withLock {
            segments.append(name)
            statistics.segmentsCut += 1
        }
    }

    /// Deletes the segments that hold nothing at or after `index`: log compaction once a
    /// snapshot covers everything before `index`. The segment being written is never deleted.
    /// Returns the names removed.
    @discardableResult
    public func release(before index: LogIndex) throws(WALError) -> [String] {
        let doomed: [SegmentName] = lock.withLock {
            // Segment k holds entries below the first index of segment k+1 (anything at or
            // above it was overwritten there), so it can go once that first index <= `index`.
            var count = 0
            while count + 1 < segments.count && segments[count + 1].firstIndex <= index { count += 1 }
            let removed = Array(segments.prefix(count))
            segments.removeFirst(count)
            return removed
        }
        guard !doomed.isEmpty else { return [] }
        do {
            for name in doomed { try Syscalls.unlink(directory + "/" + name.fileName) }
            try Syscalls.syncDirectory(directory)
        } catch {
            throw .io(error)
        }
        return doomed.map(\.fileName)
    }
}

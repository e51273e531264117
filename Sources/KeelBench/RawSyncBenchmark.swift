import KeelIO

/// Phase 1 of `keel-bench wal`: the floor under any WAL on this disk. One thread writes 4 KiB
/// at increasing offsets into a preallocated, zero-filled file, each write followed by
/// fdatasync (plain pwrite + fdatasync: `DurableFile` with the sync backend). That is the
/// cheapest fdatasync the disk offers (no file-size change, no extent conversion), and WAL
/// segments are prepared the same way, so every fsync the WAL issues costs at least this.
struct RawSyncBenchmark {
    static let writeBytes = 4096
    /// Each scratch file is preallocated to this and replaced by a fresh one when full, so
    /// that every write lands in preallocated space, as a WAL segment's do.
    static let fileBytes: Int64 = 64 << 20

    let directory: String
    let seconds: Double

    struct Result: Sendable {
        var syncs: UInt64
        /// Time spent writing and syncing; preparing replacement files is excluded.
        var measuredSeconds: Double
        var latency: LatencySummary
        var syncsPerSecond: Double { measuredSeconds > 0 ? Double(syncs) / measuredSeconds : 0 }
    }

    func run(progress: ProgressLine) throws(IOError) -> Result {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.writeBytes, alignment: 4096)
        defer { buffer.deallocate() }
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        let bytes = UnsafeRawBufferPointer(buffer)

        var latency = LatencyRecorder()
        var fileNumber = 0
        var path = scratchPath(fileNumber)
        var file = try Self.makeScratchFile(path)
        var offset: Int64 = 0
        var excludedNanoseconds: UInt64 = 0
        let budget = UInt64(seconds * 1e9)
        let start = BenchSystem.monotonicNanoseconds()
        var nextRefresh = start + ProgressLine.refreshNanoseconds
        var now = start
        while now - start < budget + excludedNanoseconds {
            if offset + Int64(Self.writeBytes) > Self.fileBytes {
                let before = now
                fileNumber += 1
                let previous = path
                path = scratchPath(fileNumber)
                file = try Self.makeScratchFile(path)
                try Syscalls.unlink(previous)
                offset = 0
                now = BenchSystem.monotonicNanoseconds()
                excludedNanoseconds += now - before
            }
            try file.writeAndSync(bytes, at: offset)
            let after = BenchSystem.monotonicNanoseconds()
            latency.record(nanoseconds: after - now)
            offset += Int64(Self.writeBytes)
            now = after
            if now >= nextRefresh {
                nextRefresh = now + ProgressLine.refreshNanoseconds
                let elapsed = Double(now - start - excludedNanoseconds) / 1e9
                progress.update("raw fdatasync floor: \(Format.fixed(elapsed, decimals: 1))/\(Format.fixed(seconds, decimals: 1)) s, \(latency.count) syncs")
            }
        }
        try Syscalls.unlink(path)
        let measured = Double(now - start - excludedNanoseconds) / 1e9
        return Result(syncs: latency.count, measuredSeconds: measured, latency: latency.summary)
    }

    private func scratchPath(_ number: Int) -> String { directory + "/raw-sync-\(number).dat" }

    /// A new file preallocated and zero-filled to `fileBytes`, made durable before any timed
    /// write (as WAL segments are), so the timed fdatasyncs carry no metadata change.
    private static func makeScratchFile(_ path: String) throws(IOError) -> DurableFile {
        let file = try DurableFile(path: path, create: true, backend: .sync)
        try file.preallocate(bytes: fileBytes, zeroFill: true)
        try file.syncAll()
        return file
    }
}

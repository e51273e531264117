import KeelIO
import KeelTestSupport
import KeelWAL

/// Options for tests: small segments, a chosen backend, and a log that stays quiet.
func testOptions(segmentBytes: Int64 = 64 << 10, backend: IOBackendChoice = .sync) -> WALOptions {
    var options = WALOptions()
    options.segmentBytes = segmentBytes
    options.backend = backend
    options.log = { _ in }
    return options
}

/// An entry whose data says which index and term it belongs to, `size` bytes long.
func entry(_ index: UInt64, term: UInt64 = 1, size: Int = 40) -> WALEntry {
    var data = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size)
    withUnsafeBytes(of: index.littleEndian) { raw in
        for (i, byte) in raw.enumerated() where i < size { data[i] = byte }
    }
    return WALEntry(term: Term(term), index: LogIndex(index), data: data)
}

/// The segment file names in a WAL directory, oldest first.
func segmentFiles(in directory: String) throws -> [String] {
    try Syscalls.listDirectory(directory).filter { $0.hasSuffix(".wal") }
}

extension WAL {
    /// Opens, appends one record per call and waits (so every record is its own batch).
    static func writeOneByOne(_ records: [WALRecord], directory: String, options: WALOptions) throws {
        let (wal, _) = try WAL.open(directory: directory, options: options)
        defer { wal.close() }
        for record in records { try wal.appendAndWait([record]) }
    }
}

extension Array where Element == WALEntry {
    /// One short line per entry (index, term, kind, size, checksum): failures stay readable.
    var digest: [String] {
        map { "\($0.index)/\($0.term)/\($0.kind.rawValue)/\($0.data.count)/\(String(CRC32C.checksum($0.data), radix: 16))" }
    }
}

/// The record framing as a public codec: encodes and verifies single records outside a WAL
/// (benchmarks, tools that inspect segments).
public enum RecordCodec {
    /// Bytes `record` takes on disk, header and padding included.
    public static func encodedSize(of record: WALRecord) -> Int {
        PreparedRecord(record).encodedSize
    }

    /// Encodes `record` at `destination`, which must have `encodedSize(of:)` bytes; returns
    /// the bytes written.
    @discardableResult
    public static func encode(_ record: WALRecord, to destination: UnsafeMutableRawPointer) -> Int {
        let prepared = PreparedRecord(record)
        prepared.write(to: destination)
        return prepared.encodedSize
    }

    /// Verifies and decodes the record at the start of `bytes`; nil when they do not hold a
    /// complete, valid raft record. Returns the record and its encoded size.
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> (record: WALRecord, size: Int)? {
        guard case .record(.record(let record), let next) = RecordDecoder.decode(bytes, at: 0) else { return nil }
        return (record, next)
    }
}

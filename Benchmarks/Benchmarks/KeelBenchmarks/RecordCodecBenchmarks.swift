import Benchmark
import KeelWAL

/// Encoding and decoding one WAL entry with 256 bytes of data: the per-record CPU cost an
/// appender pays before the group-commit lock (encode: framing and CRC32C) and replay pays
/// per record (decode: both checksums and a copy of the data).
func registerRecordCodecBenchmarks() {
    let dataBytes = 256
    let record = WALRecord.entry(WALEntry(
        term: Term(7), index: LogIndex(42),
        data: (0..<dataBytes).map { UInt8(truncatingIfNeeded: $0 &* 29) }
    ))
    let encodedSize = RecordCodec.encodedSize(of: record)
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(1),
        maxIterations: 100_000
    )

    Benchmark("RecordCodec encode \(dataBytes)-byte entry (\(encodedSize) bytes)", configuration: configuration) { benchmark in
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: encodedSize, alignment: 8)
        defer { buffer.deallocate() }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(RecordCodec.encode(record, to: buffer.baseAddress!))
        }
        benchmark.stopMeasurement()
        precondition(RecordCodec.decode(UnsafeRawBufferPointer(buffer))?.record == record, "encode round trip")
    }

    var encoded = [UInt8](repeating: 0, count: encodedSize)
    encoded.withUnsafeMutableBytes { _ = RecordCodec.encode(record, to: $0.baseAddress!) }
    let bytes = encoded
    Benchmark("RecordCodec decode \(dataBytes)-byte entry (\(encodedSize) bytes)", configuration: configuration) { benchmark in
        bytes.withUnsafeBytes { raw in
            for _ in benchmark.scaledIterations {
                guard let decoded = RecordCodec.decode(raw) else { preconditionFailure("decode failed") }
                blackHole(decoded)
            }
        }
    }
}

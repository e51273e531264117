import Benchmark
import KeelIO

/// CRC32C throughput of the three implementations Keel carries, on a WAL-batch-sized and a
/// large buffer. Besides wall clock and operations per second, each benchmark reports
/// `MB/s` (10^6 bytes per second, measured over the inner loop of each iteration), so that
/// GB/s reads off directly: 12,345 MB/s = 12.3 GB/s.
func registerCRC32CBenchmarks() {
    let implementations: [(name: String, checksum: @Sendable (UnsafeRawBufferPointer) -> UInt32)] = [
        ("hardware", { CRC32C.checksum($0) }),
        ("table", { CRC32C.tableChecksum($0) }),
        ("bytewise", { CRC32C.bytewiseChecksum($0) }),
    ]
    // Checksums per iteration: enough work that one iteration lasts well above the clock's
    // resolution for the fastest implementation.
    let sizes: [(label: String, bytes: Int, scaling: BenchmarkScalingFactor)] = [
        ("4 KiB", 4096, .kilo),
        ("1 MiB", 1 << 20, .one),
    ]
    for size in sizes {
        let buffer = (0..<size.bytes).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
        for implementation in implementations {
            Benchmark(
                "CRC32C \(implementation.name) \(size.label)",
                configuration: .init(
                    metrics: [.wallClock, .throughput, CRC32CMetrics.megabytesPerSecond],
                    // Whole MB/s, not rounded to thousands: hardware and table differ by 10x.
                    units: [CRC32CMetrics.megabytesPerSecond: .count],
                    scalingFactor: size.scaling,
                    maxDuration: .seconds(1),
                    maxIterations: 100_000
                )
            ) { benchmark in
                let clock = ContinuousClock()
                let started = clock.now
                var crc: UInt32 = 0
                buffer.withUnsafeBytes { bytes in
                    for _ in benchmark.scaledIterations { crc ^= implementation.checksum(bytes) }
                }
                let elapsed = clock.now - started
                blackHole(crc)
                let bytes = Double(size.bytes) * Double(benchmark.scaledIterations.count)
                benchmark.measurement(CRC32CMetrics.megabytesPerSecond, Int(bytes / seconds(elapsed) / 1e6))
            }
        }
    }
}

enum CRC32CMetrics {
    static var megabytesPerSecond: BenchmarkMetric {
        .custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)
    }
}

private func seconds(_ duration: Duration) -> Double {
    let (whole, attoseconds) = duration.components
    return max(Double(whole) + Double(attoseconds) / 1e18, 1e-9)
}

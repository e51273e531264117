import Benchmark

// Keel's micro-benchmarks. The benchmark plugin looks for this closure and runs every
// benchmark it registers: `swift package benchmark` from the Benchmarks directory.
let benchmarks: @Sendable () -> Void = {
    registerCRC32CBenchmarks()
    registerRecordCodecBenchmarks()
}

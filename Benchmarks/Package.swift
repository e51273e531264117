// swift-tools-version: 6.1
import PackageDescription

// Keel's micro-benchmarks (CRC32C, WAL record codec), run with `swift package benchmark`
// from this directory. A package of its own so that the benchmark plugin and its
// dependencies never enter the graph of the server build.
let package = Package(
    name: "KeelBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(name: "Keel", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "KeelBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KeelIO", package: "Keel"),
                .product(name: "KeelWAL", package: "Keel"),
            ],
            path: "Benchmarks/KeelBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

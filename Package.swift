// swift-tools-version: 6.1
import PackageDescription

// The module graph of DESIGN.md: dependencies point down only.
//   CURing, CCRC32C, CFutex ─▶ KeelIO ─▶ KeelWAL, KeelStorage ─▶ keel-bench
//   KeelStorage ─▶ KeelMVCC (the key space, revision index, watch and lease engines; KeelIO for CRC32C)
//   KeelRaft (depends on nothing: the pure Raft state machine) ─▶ KeelRaftSimulation ─▶ keel-raft-sim
// keel-bench links the engines for its `wal`, `storage`, `mvcc` and `raft` subcommands (measured on this
// machine), and LMDB (CLMDB) to compare the storage engine with it; nothing else does.
//   SwiftProtobuf ─▶ KeelAPI (etcd v3's wire messages, generated from Sources/KeelAPI/proto by Scripts/gen-protos)
//   NIOCore, NIOPosix, NIOHTTP1, NIOHPACK ─▶ KeelAPI (gRPC over HTTP/2 and HTTP/1.1 on one port, server and client)
//   everything above ─▶ KeelServer (the node: raft loop, apply loop, etcd services, gateway, flags) ─▶ keel (KeelMain)
// KeelAPI is for the server and keel-bench only: no engine imports it, so the engines never see a
// wire type and build without SwiftProtobuf.

let jemalloc: Target.Dependency = "CJemalloc"

let package = Package(
    name: "Keel",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KeelIO", targets: ["KeelIO"]),
        .library(name: "KeelWAL", targets: ["KeelWAL"]),
        .library(name: "KeelStorage", targets: ["KeelStorage"]),
        .library(name: "KeelMVCC", targets: ["KeelMVCC"]),
        .library(name: "KeelRaft", targets: ["KeelRaft"]),
        .library(name: "KeelRaftSimulation", targets: ["KeelRaftSimulation"]),
        .library(name: "KeelAPI", targets: ["KeelAPI"]),
        .library(name: "KeelServer", targets: ["KeelServer"]),
        .executable(name: "keel", targets: ["KeelMain"]),
        .executable(name: "keel-raft-sim", targets: ["KeelRaftSimRunner"]),
        .executable(name: "keel-bench", targets: ["KeelBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // No traits: with its default traits SwiftPM hands SwiftProtobuf its trait defines in a
        // changing order and the module rebuilds at random (SWIFT-NOTES.md).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0", traits: []),
        // gRPC is served and called over Keel's own HTTP/2 (KeelAPI/GRPC), not through grpc-swift
        // or swift-nio-http2's stream multiplexer, which cost about as much CPU per call as the
        // rest of a put; swift-nio-http2 provides the HPACK decoder (NIOHPACK).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
    ],
    targets: [
        .target(name: "CURing", path: "Sources/CURing", linkerSettings: [.linkedLibrary("uring")]),
        .systemLibrary(name: "CJemalloc", path: "Sources/CJemalloc"),
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB"),
        .target(
            name: "CCRC32C",
            path: "Sources/CCRC32C",
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        .target(name: "CFutex", path: "Sources/CFutex"),
        .target(
            name: "KeelIO",
            dependencies: ["CURing", "CCRC32C", "CFutex"]
        ),
        .target(name: "KeelWAL", dependencies: ["KeelIO"]),
        .target(
            name: "KeelStorage",
            dependencies: ["KeelIO"],
            // The write path mutates arrays held by node objects in tight loops; dynamic
            // exclusivity checks on those accesses cost about a tenth of a commit's CPU. The
            // engine is single-writer by construction (the writer gate), which is what the
            // checks would otherwise police.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        .target(name: "KeelMVCC", dependencies: ["KeelStorage", "KeelIO"]),
        .target(name: "KeelRaft"),
        .target(name: "KeelRaftSimulation", dependencies: ["KeelRaft"]),
        .target(
            name: "KeelAPI",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            // The .proto sources are inputs of Scripts/gen-protos; only Generated/ is compiled.
            exclude: ["proto"]
        ),
        .target(
            name: "KeelServer",
            dependencies: [
                "KeelIO", "KeelWAL", "KeelStorage", "KeelMVCC", "KeelRaft", "KeelAPI",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]
        ),
        .executableTarget(name: "KeelMain", dependencies: ["KeelServer", jemalloc]),
        .executableTarget(
            name: "KeelRaftSimRunner",
            dependencies: ["KeelRaftSimulation", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "KeelBench",
            dependencies: [
                "KeelIO", "KeelWAL", "KeelStorage", "KeelMVCC", "KeelRaft", "KeelAPI", "CLMDB", jemalloc,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(name: "KeelTestSupport", dependencies: ["KeelIO"], path: "Tests/KeelTestSupport"),
        .testTarget(name: "KeelIOTests", dependencies: ["KeelIO", "KeelTestSupport"]),
        .testTarget(name: "KeelWALTests", dependencies: ["KeelWAL", "KeelIO", "KeelTestSupport"]),
        .testTarget(name: "KeelStorageTests", dependencies: ["KeelStorage", "KeelIO", "KeelTestSupport"]),
        .testTarget(name: "KeelMVCCTests", dependencies: ["KeelMVCC", "KeelStorage", "KeelTestSupport"]),
        .testTarget(name: "KeelRaftTests", dependencies: ["KeelRaft"], exclude: ["testdata"]),
        .testTarget(name: "KeelRaftSimulationTests", dependencies: ["KeelRaftSimulation", "KeelRaft"]),
        // keel-bench's pure pieces (pacing, per-second series, plot scales), through
        // @testable import of the executable target; its workloads are tested in
        // KeelServerTests against a real keel.
        .testTarget(name: "KeelBenchUnitTests", dependencies: ["KeelBench"]),
        .testTarget(
            name: "KeelAPITests",
            dependencies: [
                "KeelAPI", "KeelTestSupport", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]
        ),
        .testTarget(
            name: "KeelServerTests",
            dependencies: [
                "KeelServer", "KeelAPI", "KeelMVCC", "KeelRaft", "KeelWAL", "KeelTestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

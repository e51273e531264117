import CJemalloc
import KeelIO

/// What this binary and machine offer the storage paths: the allocator actually linked, whether
/// io_uring can be set up here, and which CRC32C implementation runs. Printed by `--version`
/// and embedded in every benchmark report, so that numbers are never read without it.
struct HostReport: Sendable {
    static let benchVersion = "0.1.0"

    /// "jemalloc 5.3.0-0-g…" when mallctl answers, else nil.
    var jemallocVersion: String?
    /// nil when io_uring works here, else the errno io_uring_setup failed with.
    var uringProbe: Errno?
    var crc32cHardware: Bool

    static func current() -> HostReport {
        HostReport(jemallocVersion: readJemallocVersion(), uringProbe: Ring.probe,
                   crc32cHardware: CRC32C.hardwareAvailable)
    }

    private static func readJemallocVersion() -> String? {
        let capacity = 128
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buffer -> String? in
            guard keel_jemalloc_version(buffer.baseAddress, capacity) == 0 else { return nil }
            return String(cString: buffer.baseAddress!)
        }
    }

    var allocator: String {
        if let jemallocVersion { return "jemalloc " + jemallocVersion }
        return "system malloc (jemalloc not linked)"
    }

    var uring: String {
        if let uringProbe { return "unavailable (\(uringProbe))" }
        return "usable"
    }

    var crc32c: String {
        crc32cHardware ? "SSE4.2 hardware" : "slicing-by-8 tables (no SSE4.2 crc32 instruction)"
    }

    /// The `--version` text.
    var versionText: String {
        """
        keel-bench \(Self.benchVersion)
        allocator: \(allocator)
        io_uring: \(uring)
        crc32c: \(crc32c)
        """
    }

    var json: JSONValue {
        .object([
            ("keelBenchVersion", .string(Self.benchVersion)),
            ("allocator", .string(allocator)),
            ("ioUring", .string(uring)),
            ("crc32c", .string(crc32c)),
        ])
    }
}

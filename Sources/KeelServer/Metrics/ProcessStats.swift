#if canImport(Glibc)
import Glibc
#endif

/// The process figures client_golang's process collector exports, read from /proc at scrape
/// time (Linux only; elsewhere every figure is nil and the metric reads 0). The only file of
/// the metrics code that calls libc.
enum ProcessStats {
    /// `/proc/self/stat` fields after the command name, which may itself hold spaces and ')'.
    /// Index 0 is field 3 (state) of proc(5).
    private static func statFields() -> [Substring]? {
        guard let text = readSmallFile("/proc/self/stat"), let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
    }

    /// Field n of proc(5)'s numbering (1-based, pid is 1, comm is 2).
    private static func statField(_ number: Int) -> Double? {
        guard let fields = statFields(), number >= 3, fields.count > number - 3 else { return nil }
        return Double(fields[number - 3])
    }

    /// Resident set size in bytes: field 24 (pages) times the page size.
    static var residentMemoryBytes: Double? {
        statField(24).map { $0 * Double(sysconf(Int32(_SC_PAGESIZE))) }
    }

    /// Virtual memory size in bytes: field 23.
    static var virtualMemoryBytes: Double? { statField(23) }

    /// User plus system CPU time in seconds: fields 14 and 15, in clock ticks.
    static var cpuSeconds: Double? {
        guard let fields = statFields(), fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12])
        else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Start time as Unix seconds: the boot time (`btime` of /proc/stat) plus field 22, the
    /// start in clock ticks after boot.
    static var startTimeSeconds: Double? {
        guard let ticks = statField(22), let stat = readSmallFile("/proc/stat") else { return nil }
        guard let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
            let bootTime = Double(line.dropFirst("btime ".count))
        else { return nil }
        return bootTime + ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The number of entries of /proc/self/fd (the directory stream's own descriptor excluded).
    static var openFileDescriptors: Double? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { name in
                name[0] == UInt8(ascii: ".") && (name[1] == 0 || (name[1] == UInt8(ascii: ".") && name[2] == 0))
            }
            if !isDot { count += 1 }
        }
        return Double(count - 1)
    }

    /// The soft limit on open file descriptors.
    static var maxFileDescriptors: Double? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return Double(limit.rlim_cur)
    }

    /// A /proc file's text (they report size 0, so read until end of file). Nil if unreadable.
    private static func readSmallFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

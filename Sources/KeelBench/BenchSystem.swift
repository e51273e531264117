#if canImport(Glibc)
import Glibc
#endif
import KeelIO

/// The one file of keel-bench that calls libc directly: the monotonic clock, CPU time, sleeping,
/// unbuffered stderr, file sizes, the load average, and the scratch directories a run
/// creates and removes. File I/O for the measured paths goes through KeelIO and KeelWAL, as
/// the server's does (and LMDB's, for `storage`, through liblmdb in LMDBEngine).
enum BenchSystem {
    /// Nanoseconds on CLOCK_MONOTONIC: never steps with the wall clock, so latencies and
    /// deadlines stay right across NTP adjustments.
    static func monotonicNanoseconds() -> UInt64 { MonotonicClock.nanoseconds() }

    /// CPU time the calling thread has used (user and system), in nanoseconds.
    static func threadCPUNanoseconds() -> UInt64 {
        var now = timespec()
        precondition(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) == 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed")
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// CPU time the whole process has used (getrusage RUSAGE_SELF), user and system apart, in
    /// microseconds.
    static func processCPUMicroseconds() -> (user: UInt64, system: UInt64) {
        var usage = rusage()
        precondition(getrusage(RUSAGE_SELF.rawValue, &usage) == 0, "getrusage(RUSAGE_SELF) failed")
        func micros(_ time: timeval) -> UInt64 { UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_usec) }
        return (micros(usage.ru_utime), micros(usage.ru_stime))
    }

    static func sleep(nanoseconds: UInt64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    static var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

    /// Writes `text` to stderr unbuffered: progress lines must show while a run is going.
    static func writeStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var done = 0
            while done < raw.count {
                let written = write(STDERR_FILENO, raw.baseAddress! + done, raw.count - done)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return } // stderr gone: progress is best effort
                done += written
            }
        }
    }

    /// Creates a fresh directory `<parent>/<prefix>XXXXXX` (mkdtemp) and returns its path.
    static func makeTemporaryDirectory(in parent: String, prefix: String) throws(IOError) -> String {
        var template = Array((parent + "/" + prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard made else {
            throw IOError(operation: "mkdtemp", errno: .current, path: parent + "/" + prefix + "XXXXXX")
        }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The 1-minute load average, nil when the system does not say. Other work on the
    /// machine skews every number a benchmark takes, so reports show it.
    static func loadAverage() -> Double? {
        var sample: Double = 0
        return getloadavg(&sample, 1) == 1 ? sample : nil
    }

    static var onlineCPUs: Int { sysconf(Int32(_SC_NPROCESSORS_ONLN)) }

    /// The size of the file at `path` in bytes (st_size), nil when it cannot be stat'ed.
    static func fileBytes(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// Removes `path` and everything under it. Used only on directories keel-bench created
    /// itself with `makeTemporaryDirectory`; symbolic links are removed, never followed.
    static func removeTree(_ path: String) throws(IOError) {
        var info = stat()
        if lstat(path, &info) != 0 {
            let error = Errno.current
            if error == .noSuchFile { return }
            throw IOError(operation: "lstat", errno: error, path: path)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            try Syscalls.unlink(path)
            return
        }
        for name in try Syscalls.listDirectory(path) { try removeTree(path + "/" + name) }
        if rmdir(path) != 0 { throw IOError(operation: "rmdir", errno: .current, path: path) }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// CPU time this process has used (getrusage RUSAGE_SELF, user + system), for `keel-bench
/// raft`'s CPU cost per entry. Kept beside the raft benchmark rather than in BenchSystem
/// because only it needs it.
enum RaftCPUTime {
    /// Microseconds of user and of system CPU time used so far.
    static func now() -> (userMicroseconds: UInt64, systemMicroseconds: UInt64) {
        var usage = rusage()
        precondition(getrusage(RUSAGE_SELF.rawValue, &usage) == 0, "getrusage(RUSAGE_SELF) failed")
        func micros(_ time: timeval) -> UInt64 { UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_usec) }
        return (micros(usage.ru_utime), micros(usage.ru_stime))
    }
}

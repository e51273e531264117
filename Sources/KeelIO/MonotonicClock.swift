#if canImport(Glibc)
import Glibc
#endif

/// Nanoseconds on CLOCK_MONOTONIC: never steps with the wall clock, so latencies, ticks,
/// timeouts and lease expiry stay right across NTP adjustments.
public enum MonotonicClock {
    public static func nanoseconds() -> UInt64 {
        var now = timespec()
        precondition(clock_gettime(CLOCK_MONOTONIC, &now) == 0, "clock_gettime(CLOCK_MONOTONIC) failed")
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A wall-clock instant with the local UTC offset in force at that instant, formatted as etcd's
/// logger formats "ts": Go's layout "2006-01-02T15:04:05.000000Z0700", that is local time with
/// microseconds (truncated), then "Z" for a zero offset or "+hhmm"/"-hhmm".
public struct LogTimestamp: Sendable, Equatable {
    public let secondsSinceEpoch: Int64
    public let nanoseconds: Int32
    public let utcOffsetSeconds: Int32

    public init(secondsSinceEpoch: Int64, nanoseconds: Int32, utcOffsetSeconds: Int32) {
        precondition((0..<1_000_000_000).contains(nanoseconds), "nanoseconds out of range: \(nanoseconds)")
        self.secondsSinceEpoch = secondsSinceEpoch
        self.nanoseconds = nanoseconds
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// The system clock (CLOCK_REALTIME) and the local time zone's offset at that instant.
    public static func now() -> LogTimestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var local = tm()
        localtime_r(&seconds, &local)
        return LogTimestamp(secondsSinceEpoch: Int64(spec.tv_sec), nanoseconds: Int32(spec.tv_nsec),
                            utcOffsetSeconds: Int32(local.tm_gmtoff))
    }

    public var etcdText: String {
        let local = secondsSinceEpoch + Int64(utcOffsetSeconds)
        var days = local / 86_400
        var secondOfDay = local % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        var text = Self.padded(year, 4) + "-" + Self.padded(month, 2) + "-" + Self.padded(day, 2)
        text += "T" + Self.padded(secondOfDay / 3600, 2) + ":" + Self.padded(secondOfDay / 60 % 60, 2) + ":" + Self.padded(secondOfDay % 60, 2)
        text += "." + Self.padded(Int64(nanoseconds / 1000), 6)
        if utcOffsetSeconds == 0 { return text + "Z" }
        let offsetMinutes = Int64(utcOffsetSeconds.magnitude) / 60
        return text + (utcOffsetSeconds < 0 ? "-" : "+") + Self.padded(offsetMinutes / 60, 2) + Self.padded(offsetMinutes % 60, 2)
    }

    /// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01 (Howard Hinnant's
    /// days-to-civil algorithm).
    static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

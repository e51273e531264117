import Histogram

/// Latencies of one kind of operation, kept in microseconds in an HdrHistogram (3
/// significant digits, up to 10 s). One per thread while measuring; merged afterwards, so
/// the measured threads never share a lock for bookkeeping.
struct LatencyRecorder: Sendable {
    static let highestTrackableMicroseconds: UInt64 = 10_000_000

    private(set) var histogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1,
        highestTrackableValue: LatencyRecorder.highestTrackableMicroseconds,
        numberOfSignificantValueDigits: .three
    )

    /// Records one operation of `nanoseconds`; anything beyond 10 s counts as 10 s.
    mutating func record(nanoseconds: UInt64) {
        let microseconds = min((nanoseconds + 500) / 1000, Self.highestTrackableMicroseconds)
        let recorded = histogram.record(microseconds)
        precondition(recorded, "latency \(microseconds) µs outside the histogram's range")
    }

    mutating func merge(_ other: LatencyRecorder) {
        histogram.add(other.histogram)
    }

    var count: UInt64 { histogram.totalCount }

    var summary: LatencySummary {
        LatencySummary(
            count: histogram.totalCount,
            p50Microseconds: histogram.valueAtPercentile(50),
            p99Microseconds: histogram.valueAtPercentile(99),
            p999Microseconds: histogram.valueAtPercentile(99.9),
            maxMicroseconds: histogram.max
        )
    }
}

/// The percentiles a report shows.
struct LatencySummary: Sendable {
    var count: UInt64
    var p50Microseconds: UInt64
    var p99Microseconds: UInt64
    var p999Microseconds: UInt64
    var maxMicroseconds: UInt64
}

import Foundation
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
            p90Microseconds: histogram.valueAtPercentile(90),
            p99Microseconds: histogram.valueAtPercentile(99),
            p999Microseconds: histogram.valueAtPercentile(99.9),
            maxMicroseconds: histogram.max
        )
    }

    /// The latency curve as HdrHistogram plots it: (percentile, microseconds) at
    /// `pointsPerDecade` points per decade of 1 / (1 − percentile / 100), from 0 up to the
    /// percentile a single request stands for (1 − 1/count), then the maximum at 100.
    func percentileCurve(pointsPerDecade: Int = 20) -> [(percentile: Double, microseconds: UInt64)] {
        let count = histogram.totalCount
        guard count > 0 else { return [] }
        let decades = log10(Double(max(count, 10)))
        var points: [(Double, UInt64)] = []
        let steps = Int((decades * Double(pointsPerDecade)).rounded(.down))
        for step in 0...steps {
            let percentile = 100 * (1 - pow(10, -Double(step) / Double(pointsPerDecade)))
            points.append((percentile, histogram.valueAtPercentile(percentile)))
        }
        points.append((100, histogram.max))
        return points
    }
}

/// The percentiles a report shows.
struct LatencySummary: Sendable {
    var count: UInt64
    var p50Microseconds: UInt64
    var p90Microseconds: UInt64
    var p99Microseconds: UInt64
    var p999Microseconds: UInt64
    var maxMicroseconds: UInt64
}

import Histogram

/// Completions counted into one-second buckets since the run's start, with a coarse latency
/// histogram per bucket for that second's p99. One per connection while measuring (touched by
/// its event loop only), merged afterwards.
///
/// A completion at offset t nanoseconds lands in bucket ⌊t / 10⁹⌋; the last bucket of a run
/// usually covers less than a second, which `NetworkResult` says when it reports it.
struct NetworkSeries: Sendable {
    /// A run longer than this many seconds keeps counting into the last bucket: a limit on
    /// the memory a forgotten --duration can take.
    static let secondsMax = 86_400

    struct Second: Sendable {
        var requests: UInt64 = 0
        // Two significant digits: per-second p99s are read off a plot, and 100 connections ×
        // an hour of seconds must stay small (a few KiB each).
        var latency = Histogram<UInt32>(
            lowestDiscernibleValue: 1, highestTrackableValue: LatencyRecorder.highestTrackableMicroseconds,
            numberOfSignificantValueDigits: .two)
    }

    private(set) var seconds: [Second] = []

    static func bucket(offsetNanoseconds: UInt64) -> Int {
        min(Int(offsetNanoseconds / 1_000_000_000), secondsMax - 1)
    }

    /// Counts one completion `offsetNanoseconds` after the run's start that took
    /// `latencyNanoseconds`.
    mutating func record(offsetNanoseconds: UInt64, latencyNanoseconds: UInt64) {
        let index = Self.bucket(offsetNanoseconds: offsetNanoseconds)
        if seconds.count <= index { seconds += Array(repeating: Second(), count: index + 1 - seconds.count) }
        seconds[index].requests += 1
        let microseconds = min((latencyNanoseconds + 500) / 1000, LatencyRecorder.highestTrackableMicroseconds)
        _ = seconds[index].latency.record(microseconds)
    }

    mutating func merge(_ other: NetworkSeries) {
        if seconds.count < other.seconds.count {
            seconds += Array(repeating: Second(), count: other.seconds.count - seconds.count)
        }
        for (index, second) in other.seconds.enumerated() {
            seconds[index].requests += second.requests
            seconds[index].latency.add(second.latency)
        }
    }

    /// One row per second from 0 to the last second with a completion; p99 is 0 for a second
    /// without any.
    var rows: [(second: Int, requests: UInt64, p99Microseconds: UInt64)] {
        seconds.enumerated().map { index, second in
            (index, second.requests, second.requests == 0 ? 0 : second.latency.valueAtPercentile(99))
        }
    }
}

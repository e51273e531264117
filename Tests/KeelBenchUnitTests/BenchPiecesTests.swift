import Testing
@testable import KeelBench

/// keel-bench's pacing, per-second series and plot scales.
@Suite struct BenchPiecesTests {
    @Test func rateScheduleIsExactAndNeverDrifts() {
        let limiter = RateLimiter(requestsPerSecond: 3)
        #expect((0..<7).map { limiter.dueOffsetNanoseconds(request: $0) }
                == [0, 333_333_333, 666_666_666, 1_000_000_000, 1_333_333_333, 1_666_666_666, 2_000_000_000])
        // After a billion requests at 3/s the schedule is still exact to the nanosecond.
        #expect(limiter.dueOffsetNanoseconds(request: 3_000_000_000) == 1_000_000_000_000_000_000)
        #expect(limiter.delayNanoseconds(request: 3, nowOffsetNanoseconds: 400_000_000) == 600_000_000)
        #expect(limiter.delayNanoseconds(request: 3, nowOffsetNanoseconds: 2_000_000_000) == 0)
        // A run of --rate R for --duration D sends at most R × D requests: request R × D is due at D.
        let rate = RateLimiter(requestsPerSecond: 40)
        #expect(rate.dueOffsetNanoseconds(request: 40) == 1_000_000_000)
        #expect(rate.dueOffsetNanoseconds(request: 39) < 1_000_000_000)
    }

    @Test func keysAreTheirSlotPaddedWithZerosOrItsLowDigits() {
        let space = NetworkKeySpace(size: 1_000_000, keyBytes: 4, sequential: true, seed: 0)
        let text = { (slot: Int) in String(decoding: space.key(slot: slot), as: UTF8.self) }
        #expect(text(0) == "0000")
        #expect(text(7) == "0007")
        #expect(text(4321) == "4321")
        // Too many digits for the key size: the low ones, as etcd's tool does.
        #expect(text(987_654) == "7654")
        #expect(space.key(request: 1_000_042) == space.key(slot: 42))
        let wide = NetworkKeySpace(size: 10, keyBytes: 12, sequential: false, seed: 1)
        #expect(String(decoding: wide.key(slot: 90_817), as: UTF8.self) == "000000090817")
    }

    @Test func completionsLandInTheirSecondAndMerge() {
        var first = NetworkSeries()
        first.record(offsetNanoseconds: 0, latencyNanoseconds: 1_000)
        first.record(offsetNanoseconds: 999_999_999, latencyNanoseconds: 2_000_000)
        first.record(offsetNanoseconds: 2_500_000_000, latencyNanoseconds: 3_000)
        var second = NetworkSeries()
        second.record(offsetNanoseconds: 1_000_000_000, latencyNanoseconds: 5_000)
        first.merge(second)
        let rows = first.rows
        #expect(rows.map(\.requests) == [2, 1, 1])
        #expect(rows.map(\.second) == [0, 1, 2])
        // p99 of second 0 is its slower completion (2 ms, within the histogram's two digits).
        #expect(rows[0].p99Microseconds >= 1_990 && rows[0].p99Microseconds <= 2_010, "\(rows[0])")
        #expect(NetworkSeries.bucket(offsetNanoseconds: UInt64.max) == NetworkSeries.secondsMax - 1)
    }

    @Test func axesGetNiceTicks() {
        #expect(SVGPlot.tickStep(lower: 0, upper: 100, count: 5) == 20)
        #expect(SVGPlot.tickStep(lower: 0, upper: 7, count: 5) == 2)
        #expect(SVGPlot.linearTicks(lower: 0, upper: 100, count: 5) == [0, 20, 40, 60, 80, 100])
        #expect(SVGPlot.niceUpper(9_311) == 10_000)
        #expect(SVGPlot.niceUpper(0) == 1)
        #expect(SVGPlot.label(12_000, step: 2_000) == "12,000")
        #expect(SVGPlot.label(0.25, step: 0.05) == "0.25")
        let axis = SVGPlot.Axis(title: "µs", scale: .log10, lower: 1, upper: 1_000, ticks: [])
        #expect(axis.fraction(10) > 0.333 && axis.fraction(10) < 0.334)
        #expect(axis.fraction(0) == 0 && axis.fraction(1e9) == 1)
    }
}

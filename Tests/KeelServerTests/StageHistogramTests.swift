import Foundation
import KeelTestSupport
import Testing
@testable import KeelServer

/// The latency harness's histogram: its buckets, its quantiles, and the JSON of the stages.
@Suite struct StageHistogramTests {
    @Test func bucketsCoverEveryValueWithinOneSixteenth() {
        let seed = UInt64(ProcessInfo.processInfo.environment["KEEL_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64.max)
        print("StageHistogramTests seed \(seed) (KEEL_SEED replays)")
        var generator = SeededGenerator(seed: seed)
        var values: [UInt64] = Array(0...40) + [1 << 41, (1 << 42) - 1]
        for _ in 0..<20_000 { values.append(UInt64.random(in: 0...(1 << 42) - 1, using: &generator) >> UInt64.random(in: 0...40, using: &generator)) }
        for value in values {
            let slot = StageHistogram.slot(value)
            #expect(slot >= 0 && slot < StageHistogram.slotCount)
            let upper = StageHistogram.upperBound(slot: slot)
            let lower = slot == 0 ? 0 : StageHistogram.upperBound(slot: slot - 1) + 1
            #expect(lower <= value && value <= upper, "\(value) in slot \(slot) [\(lower), \(upper)]")
            if value >= 16 { #expect(Double(upper - lower + 1) <= Double(lower) / 16, "slot \(slot) too wide") }
        }
        // Slots are contiguous: each starts right after the previous one ends.
        for slot in 1..<StageHistogram.slotCount - 1 {
            #expect(StageHistogram.slot(StageHistogram.upperBound(slot: slot)) == slot)
            #expect(StageHistogram.slot(StageHistogram.upperBound(slot: slot - 1) + 1) == slot)
        }
        #expect(StageHistogram.slot(UInt64.max) == StageHistogram.slotCount - 1)
    }

    @Test func quantilesOfAKnownDistribution() {
        let histogram = StageHistogram()
        #expect(histogram.summary == StageSummary(count: 0, meanNanoseconds: 0, p50Nanoseconds: 0, p90Nanoseconds: 0,
                                                  p99Nanoseconds: 0, p999Nanoseconds: 0, maxNanoseconds: 0))
        // 1 µs ... 10 ms in 10,000 steps of 1 µs.
        for micro in 1...10_000 { histogram.record(nanoseconds: UInt64(micro) * 1_000) }
        let summary = histogram.summary
        #expect(summary.count == 10_000)
        #expect(summary.meanNanoseconds == 5_000_500)
        #expect(summary.maxNanoseconds == 10_000_000)
        for (reported, exact) in [(summary.p50Nanoseconds, 5_000_000.0), (summary.p90Nanoseconds, 9_000_000.0),
                                  (summary.p99Nanoseconds, 9_900_000.0), (summary.p999Nanoseconds, 9_990_000.0)] {
            #expect(Double(reported) >= exact && Double(reported) <= exact * 1.0625, "\(reported) for \(exact)")
        }
        #expect(summary.p999Nanoseconds <= summary.maxNanoseconds)
        histogram.reset()
        #expect(histogram.summary.count == 0 && histogram.summary.maxNanoseconds == 0)
    }

    @Test func stagesRenderAsJSONAndFeedPrometheus() throws {
        let registry = MetricsRegistry()
        let stages = StageLatencies(registry: registry)
        stages.proposalWait.record(nanoseconds: 1_234_567)
        stages.walWriteFsync.record(nanoseconds: 2_000_000)
        let json = stages.json()
        #expect(json.contains(#"{"stage":"proposal_wait","path":"write","#))
        #expect(json.contains(#""count":1,"meanMicroseconds":1234.6,"#), "\(json)")
        #expect(json.contains(#"{"stage":"backend_read","path":"read","#))
        #expect(stages.all.map(\.name) == ["proposal_wait", "wal_write_fsync", "replication", "apply_queue", "apply_wal_wait",
                                           "apply", "backend_commit", "write_total", "read_index_wait", "index_lookup", "backend_read"])
        let text = registry.exposition()
        #expect(text.contains(#"keel_stage_duration_seconds_count{stage="proposal_wait"} 1"#), "\(text)")
        // etcd has its own metric for the WAL's fsync: the stage is not exported twice.
        #expect(!text.contains(#"stage="wal_write_fsync""#))
        #expect(StageLatencies.microseconds(0) == "0.0" && StageLatencies.microseconds(1_049) == "1.0"
                && StageLatencies.microseconds(1_050) == "1.1")
    }
}

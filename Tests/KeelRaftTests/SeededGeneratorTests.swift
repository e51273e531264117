import Testing
@testable import KeelRaft

@Suite struct SeededGeneratorTests {
    /// A recorded seed must keep meaning the same election timeouts: these draws are pinned.
    @Test func drawsArePinnedForASeed() {
        var generator = SeededGenerator(seed: 42)
        let draws = (0..<8).map { _ in generator.draw(below: 10) }
        #expect(draws == [7, 1, 2, 3, 0, 8, 2, 8])
    }

    @Test func drawsStayBelowTheBoundAndCoverIt() {
        var generator = SeededGenerator(seed: 7)
        var seen = [Int](repeating: 0, count: 5)
        for _ in 0..<5_000 {
            let value = generator.draw(below: 5)
            #expect((0..<5).contains(value))
            seen[value] += 1
        }
        // Each value is expected 1000 times; 800 is more than six standard deviations away.
        #expect(seen.allSatisfy { $0 > 800 })
        var single = SeededGenerator(seed: 1)
        #expect(single.draw(below: 1) == 0)
    }
}

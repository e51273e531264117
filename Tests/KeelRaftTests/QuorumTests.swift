import Testing
@testable import KeelRaft

/// The quorum rules checked against naive models on random configurations.
@Suite struct QuorumTests {
    /// The largest index that at least a majority of voters holds, by trying every index.
    static func naiveCommitted(_ voters: [NodeID], _ match: [NodeID: LogIndex]) -> LogIndex {
        if voters.isEmpty { return .max }
        let candidates = Set(voters.map { match[$0] ?? .zero }).sorted(by: >)
        for index in candidates where voters.filter({ (match[$0] ?? .zero) >= index }).count > voters.count / 2 {
            return index
        }
        return .zero
    }

    static func naiveVote(_ voters: [NodeID], _ votes: [NodeID: Bool]) -> VoteResult {
        if voters.isEmpty { return .won }
        let yes = voters.filter { votes[$0] == true }.count
        let no = voters.filter { votes[$0] == false }.count
        if 2 * yes > voters.count { return .won }
        if 2 * no >= voters.count { return .lost }
        return .pending
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 0xC0FFEE])
    func committedIndexMatchesModel(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        for round in 0..<500 {
            let voters = (1...UInt64.random(in: 1...9, using: &rng)).map { NodeID($0) }
            var match: [NodeID: LogIndex] = [:]
            for id in voters where Int.random(in: 0..<5, using: &rng) > 0 {
                match[id] = LogIndex(UInt64.random(in: 0...20, using: &rng))
            }
            let config = MajorityConfig(voters)
            let got = config.committedIndex { match[$0] }
            let want = Self.naiveCommitted(voters, match)
            #expect(got == want, "seed \(seed) round \(round): voters \(voters) match \(match)")
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 0xBEEF])
    func voteResultMatchesModel(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        for round in 0..<500 {
            let voters = (1...UInt64.random(in: 1...9, using: &rng)).map { NodeID($0) }
            var votes: [NodeID: Bool] = [:]
            for id in voters {
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: votes[id] = true
                case 1: votes[id] = false
                default: break
                }
            }
            let got = MajorityConfig(voters).voteResult { votes[$0] }
            #expect(got == Self.naiveVote(voters, votes), "seed \(seed) round \(round): voters \(voters) votes \(votes)")
        }
    }

    @Test func emptyConfigurationConstrainsNothing() {
        #expect(MajorityConfig([]).committedIndex { _ in .zero } == .max)
        #expect(MajorityConfig([]).voteResult { _ in false } == .won)
    }

    @Test func evenConfigurationNeedsMoreThanHalf() {
        let config = MajorityConfig([1, 2, 3, 4].map { NodeID($0) })
        #expect(config.quorum == 3)
        let match: [NodeID: LogIndex] = [NodeID(1): LogIndex(9), NodeID(2): LogIndex(9), NodeID(3): LogIndex(2), NodeID(4): LogIndex(1)]
        #expect(config.committedIndex { match[$0] } == LogIndex(2))
        #expect(config.voteResult { [NodeID(1), NodeID(2)].contains($0) ? true : false } == .lost)
    }
}

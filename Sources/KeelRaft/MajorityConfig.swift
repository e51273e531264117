/// The outcome of an election so far.
public enum VoteResult: String, Hashable, Sendable {
    /// Neither a majority for nor a majority against yet.
    case pending = "VotePending"
    case lost = "VoteLost"
    case won = "VoteWon"
}

/// A set of voters deciding by simple majority. With single-server membership changes this
/// is the only quorum Keel needs.
public struct MajorityConfig: Hashable, Sendable {
    /// Sorted, no duplicates.
    public private(set) var voters: [NodeID]

    public init(_ voters: [NodeID]) {
        self.voters = Array(Set(voters)).sorted()
    }

    public var count: Int { voters.count }
    public func contains(_ id: NodeID) -> Bool { voters.contains(id) }
    /// The number of voters that makes a majority.
    public var quorum: Int { voters.count / 2 + 1 }

    mutating func insert(_ id: NodeID) {
        guard !contains(id) else { return }
        voters.append(id)
        voters.sort()
    }

    mutating func remove(_ id: NodeID) { voters.removeAll { $0 == id } }

    /// The highest index a majority of voters has (voters `match` does not know count as 0).
    /// An empty configuration returns ``LogIndex/max``: it constrains nothing.
    public func committedIndex(_ match: (NodeID) -> LogIndex?) -> LogIndex {
        guard !voters.isEmpty else { return .max }
        // Sorted descending, the quorum-th largest is held by a majority.
        var indexes = voters.map { match($0) ?? .zero }
        indexes.sort(by: >)
        return indexes[quorum - 1]
    }

    /// The election result given each voter's vote (nil: not yet answered). An empty
    /// configuration wins (there is no one to object).
    public func voteResult(_ vote: (NodeID) -> Bool?) -> VoteResult {
        guard !voters.isEmpty else { return .won }
        var granted = 0
        var missing = 0
        for id in voters {
            switch vote(id) {
            case true?: granted += 1
            case false?: break
            case nil: missing += 1
            }
        }
        if granted >= quorum { return .won }
        if granted + missing >= quorum { return .pending }
        return .lost
    }
}

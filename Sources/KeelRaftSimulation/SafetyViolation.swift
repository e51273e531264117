/// A broken Raft safety property, as the checker saw it. `property` names which one; `detail`
/// says what was observed, in terms of simulation node slots (0-based), terms and indexes.
public struct SafetyViolation: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Property: String, Sendable, Equatable {
        /// Two leaders in one term.
        case electionSafety = "election safety"
        /// Two entries with the same index and term but different contents or predecessors.
        case logMatching = "log matching"
        /// A leader elected after an entry was committed lacks that entry.
        case leaderCompleteness = "leader completeness"
        /// A node applied something other than what every other node applied at that index,
        /// skipped an index, or restored a snapshot of a different state.
        case stateMachineSafety = "state machine safety"
        /// A commit index went down within one incarnation of a node, or a restart came back
        /// with a commit index it could not have had on its disk.
        case commitMonotonicity = "commit monotonicity"
        /// A ReadIndex answer older than a commit that happened before the read was asked.
        case linearizableRead = "linearizable read"
        /// An applied entry that no client proposed.
        case integrity = "integrity"
    }

    public let property: Property
    public let detail: String

    public init(_ property: Property, _ detail: String) {
        self.property = property
        self.detail = detail
    }

    public var description: String { "\(property.rawValue): \(detail)" }
}

/// One membership change, carried in a log entry of kind ``EntryKind/confChange``.
///
/// Keel changes membership one server at a time (as etcd's ConfChange v1 does): at most one
/// change is pending, and it takes effect on every node when that node applies the entry.
/// Any two majorities of configurations that differ by one voter overlap, so no two leaders
/// can be elected in one term across the change. Joint consensus would allow replacing
/// several voters at once, but costs a second configuration in every quorum decision and a
/// second entry per change; etcd's clients change one member per request, so single-server
/// changes serve the API at a fraction of the complexity.
public struct ConfChange: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: UInt8, Hashable, Sendable {
        /// Adds a voter, or promotes a learner to voter.
        case addNode = 0
        /// Removes a voter or a learner (possibly the leader itself).
        case removeNode = 1
        /// Adds a learner, or demotes a voter to learner.
        case addLearnerNode = 2
        /// Changes nothing raft tracks (etcd's ConfChangeUpdateNode: a member's URLs, carried
        /// in the context); it goes through the log so every member applies it in order.
        case updateNode = 3
    }

    public var kind: Kind
    public var nodeID: NodeID
    /// Opaque to raft (etcd stores the member's URLs here).
    public var context: [UInt8]

    public init(kind: Kind, nodeID: NodeID, context: [UInt8] = []) {
        self.kind = kind
        self.nodeID = nodeID
        self.context = context
    }

    public var description: String {
        switch kind {
        case .addNode: "add \(nodeID)"
        case .removeNode: "remove \(nodeID)"
        case .addLearnerNode: "learner \(nodeID)"
        case .updateNode: "update \(nodeID)"
        }
    }

    /// The entry payload:
    ///
    ///     0      1                 9
    ///     ┌──────┬─────────────────┬──────────────┐
    ///     │ kind │ nodeID (LE u64) │ context …    │
    ///     └──────┴─────────────────┴──────────────┘
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [kind.rawValue]
        bytes.reserveCapacity(9 + context.count)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: nodeID.rawValue >> UInt64(shift))) }
        bytes += context
        return bytes
    }

    /// Decodes ``encoded()``; nil when the bytes are not a conf change.
    public init?(decoding bytes: [UInt8]) {
        guard bytes.count >= 9, let kind = Kind(rawValue: bytes[0]) else { return nil }
        var id: UInt64 = 0
        for i in 0..<8 { id |= UInt64(bytes[1 + i]) << UInt64(8 * i) }
        self.init(kind: kind, nodeID: NodeID(id), context: Array(bytes[9...]))
    }
}

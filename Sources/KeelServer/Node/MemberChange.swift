import KeelAPI
import KeelRaft
import SwiftProtobuf

/// One membership change as it travels in the context of a raft conf change entry: the id of
/// the request waiting for it, whether an add is a learner's promotion, and the member (etcd
/// carries the member as JSON here; Keel carries the `etcdserverpb.Member` message).
///
///     0         1       2                  10
///     +---------+-------+------------------+--------------------------------------+
///     | version | flags | request id       | member: protobuf bytes of            |
///     | = 1     |       | UInt64, LE       | etcdserverpb.Member                  |
///     +---------+-------+------------------+--------------------------------------+
///
/// flags: bit 0 = promote (an addNode of an existing learner). The member runs to the end of
/// the context. An add carries the whole new member; a promotion or a removal its id; an
/// update its id and new peer URLs. Entries live in the WAL for good: a change of layout gets
/// a new version byte and decoding keeps reading the old ones.
struct MemberChange: Hashable, Sendable {
    var kind: ConfChange.Kind
    /// The waiter of the proposing member's request (0: nobody waits).
    var requestID: UInt64
    var isPromote: Bool
    var member: Etcdserverpb_Member

    static let formatVersion: UInt8 = 1
    static let headerBytes = 10

    init(kind: ConfChange.Kind, requestID: UInt64, isPromote: Bool = false, member: Etcdserverpb_Member) {
        self.kind = kind
        self.requestID = requestID
        self.isPromote = isPromote
        self.member = member
    }

    /// The raft conf change that carries this change.
    var confChange: ConfChange {
        var context: [UInt8] = [Self.formatVersion, isPromote ? 1 : 0]
        for shift in stride(from: 0, to: 64, by: 8) { context.append(UInt8(truncatingIfNeeded: requestID >> UInt64(shift))) }
        // proto3 messages without required fields always serialize.
        context += try! member.serializedBytes() as [UInt8]
        return ConfChange(kind: kind, nodeID: NodeID(member.id), context: context)
    }

    /// Reads a committed conf change; nil when its context is not one Keel wrote (the WAL
    /// checksums entries, so that is a bug or a newer Keel's entry).
    init?(_ change: ConfChange) {
        let context = change.context
        guard context.count >= Self.headerBytes, context[0] == Self.formatVersion, context[1] & ~1 == 0,
              let member = try? Etcdserverpb_Member(serializedBytes: Array(context[Self.headerBytes...])) else { return nil }
        let requestID = context[2..<10].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        // The raft entry's node id is the one raft acts on: the member must agree with it.
        guard member.id == change.nodeID.rawValue else { return nil }
        self.init(kind: change.kind, requestID: requestID, isPromote: context[1] & 1 == 1, member: member)
    }
}

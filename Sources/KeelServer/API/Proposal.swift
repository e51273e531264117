import KeelAPI
import SwiftProtobuf

/// One write proposed through raft: the id its proposer waits on, and the request the apply
/// loop executes on every member.
///
/// The encoded form is what a raft entry carries, so it lives in the WAL (and in every
/// member's log) for good: a later Keel must still decode every version it ever wrote.
///
///     0         1      2                  10
///     +---------+------+------------------+------------------------------------+
///     | version | kind | id               | request: protobuf bytes of the     |
///     | = 1     |      | UInt64, LE       | kind's etcdserverpb message        |
///     +---------+------+------------------+------------------------------------+
///
/// The request runs to the end of the entry (the WAL record frames and checksums the entry,
/// so no length or checksum is repeated here). Kinds, never renumbered or reused:
///
///     1 put (PutRequest)              5 leaseGrant (LeaseGrantRequest)
///     2 deleteRange (DeleteRangeRequest)  6 leaseRevoke (LeaseRevokeRequest)
///     3 txn (TxnRequest)              7 leaseCheckpoint (LeaseCheckpointRequest)
///     4 compact (CompactionRequest)   8 alarm (AlarmRequest)
///     9 memberAttributes (Member: id, name, client URLs)
///
/// A change to this layout gets a new version byte, and decoding keeps reading the old ones.
public struct Proposal: Hashable, Sendable {
    /// The proposer's request id, unique per member (etcd's request id generator); the apply
    /// loop answers the waiting call under it.
    public var id: UInt64
    public var request: ProposalRequest

    public init(id: UInt64, request: ProposalRequest) {
        self.id = id
        self.request = request
    }

    /// The version byte this build writes.
    public static let formatVersion: UInt8 = 1
    /// Version, kind and id.
    public static let headerBytes = 10
}

/// The writes the apply loop executes, as the wire requests that asked for them.
public enum ProposalRequest: Hashable, Sendable {
    case put(Etcdserverpb_PutRequest)
    case deleteRange(Etcdserverpb_DeleteRangeRequest)
    case txn(Etcdserverpb_TxnRequest)
    case compact(Etcdserverpb_CompactionRequest)
    /// The id is the proposer's choice, never 0 (the leader picks one for a request without).
    case leaseGrant(Etcdserverpb_LeaseGrantRequest)
    case leaseRevoke(Etcdserverpb_LeaseRevokeRequest)
    /// Remaining TTLs checkpointed by the leader.
    case leaseCheckpoint(Etcdserverpb_LeaseCheckpointRequest)
    case alarm(Etcdserverpb_AlarmRequest)
    /// A member publishes its name and client URLs (etcd's ClusterMemberAttrSetRequest): the
    /// id, name and clientUrls fields of the member; the others are ignored.
    case memberAttributes(Etcdserverpb_Member)

    /// The kind byte of the encoded form (see `Proposal`).
    public var kind: UInt8 {
        switch self {
        case .put: 1
        case .deleteRange: 2
        case .txn: 3
        case .compact: 4
        case .leaseGrant: 5
        case .leaseRevoke: 6
        case .leaseCheckpoint: 7
        case .alarm: 8
        case .memberAttributes: 9
        }
    }
}

/// Why bytes are not a proposal. Bytes read back from the WAL passed its checksum, so any of
/// these means a Keel wrote something this build cannot read (or a bug), not a torn write.
public enum ProposalDecodingError: Error, Hashable, Sendable {
    /// Fewer bytes than the header.
    case truncated(byteCount: Int)
    /// A format version this build does not know (written by a newer Keel).
    case unknownVersion(UInt8)
    case unknownKind(UInt8)
    /// The request bytes are not a protobuf message of the kind's type.
    case malformedRequest(kind: UInt8)
}

import KeelAPI
import KeelMVCC
import KeelStorage
import SwiftProtobuf

/// The cluster's id and members, kept in the B+tree as etcd keeps them in its backend, so a
/// restart finds them without the --initial-cluster flags (which, as in etcd, only matter to
/// a new member).
///
/// Layout: bucket `members`, key = the member id in lowercase hex (etcd's key), value = the
/// member as an `etcdserverpb.Member` message in protobuf encoding; bucket `cluster`, key
/// `clusterID`, value = the cluster id as 8 big-endian bytes; bucket `members_removed`, key =
/// a removed member's id in lowercase hex, value empty.
struct ClusterMembership: Sendable {
    var clusterID: UInt64
    var members: [Etcdserverpb_Member]
    /// Members removed from the cluster, in the order removed: their ids are never accepted
    /// again.
    var removed: [UInt64] = []

    static let membersBucket = Array("members".utf8)
    static let removedBucket = Array("members_removed".utf8)
    static let clusterBucket = Array("cluster".utf8)
    static let clusterIDKey = Array("clusterID".utf8)

    /// What the backend holds, or nil for a new member's empty backend.
    static func load(from database: Database) throws(NodeStartError) -> ClusterMembership? {
        let read = database.beginRead()
        defer { read.end() }
        guard let idBytes = read.get(clusterBucket, clusterIDKey) else { return nil }
        guard idBytes.count == 8 else { throw .corruptBackend("the cluster id has \(idBytes.count) bytes, not 8") }
        var members: [Etcdserverpb_Member] = []
        var broken: String?
        read.scan(membersBucket) { key, value in
            guard let member = try? Etcdserverpb_Member(serializedBytes: Array(value)),
                  String(member.id, radix: 16) == String(decoding: key, as: UTF8.self) else {
                broken = String(decoding: key, as: UTF8.self)
                return false
            }
            members.append(member)
            return true
        }
        if let broken { throw .corruptBackend("the member record \(broken) does not decode") }
        guard !members.isEmpty else { throw .corruptBackend("the cluster id is set but no member is recorded") }
        var removed: [UInt64] = []
        read.scan(removedBucket) { key, _ in
            if let id = UInt64(String(decoding: key, as: UTF8.self), radix: 16) { removed.append(id) }
            return true
        }
        return ClusterMembership(clusterID: idBytes.reduce(0) { $0 << 8 | UInt64($1) }, members: members, removed: removed)
    }

    /// The membership of a new cluster from --initial-cluster: every member's id derives from
    /// its peer URLs and the token, the cluster's from the member ids.
    static func bootstrap(_ options: NodeOptions) throws(NodeStartError) -> ClusterMembership {
        guard options.initialCluster.contains(where: { $0.name == options.name }) else {
            throw .configuration("couldn't find local name \"\(options.name)\" in the initial cluster configuration")
        }
        let members = options.initialCluster.map { entry in
            var member = Etcdserverpb_Member()
            member.id = MemberIdentity.memberID(peerURLs: entry.peerURLs, clusterToken: options.clusterToken)
            member.name = entry.name
            member.peerUrls = entry.peerURLs
            if entry.name == options.name { member.clientUrls = options.clientURLs }
            return member
        }
        return ClusterMembership(clusterID: MemberIdentity.clusterID(memberIDs: members.map(\.id)), members: members)
    }

    /// Writes the membership into the store's open write transaction and commits it.
    func save(in store: KVStore) throws(StorageError) {
        let transaction = try store.storageTransaction()
        try transaction.createBucket(Self.clusterBucket)
        try transaction.put(Self.clusterBucket, Self.clusterIDKey, (0..<8).map { UInt8(truncatingIfNeeded: clusterID >> (56 - 8 * $0)) })
        for member in members {
            try transaction.put(Self.membersBucket, Array(String(member.id, radix: 16).utf8), try! member.serializedBytes())
        }
        try store.flush()
    }

    func member(named name: String) -> Etcdserverpb_Member? { members.first { $0.name == name } }

    /// This member: by its name, or (added at runtime, not yet published) by its peer URLs.
    func local(_ options: NodeOptions) -> Etcdserverpb_Member? {
        member(named: options.name) ?? members.first { $0.name.isEmpty && $0.peerUrls.sorted() == options.peerURLs.sorted() }
    }
}

/// Why a node could not start.
public enum NodeStartError: Error, CustomStringConvertible {
    case configuration(String)
    case corruptBackend(String)
    case storage(StorageError)
    case wal(String)

    public var description: String {
        switch self {
        case .configuration(let message): message
        case .corruptBackend(let message): "the backend database is damaged: \(message)"
        case .storage(let error): "failed to open the backend database: \(error)"
        case .wal(let message): "failed to open the WAL: \(message)"
        }
    }
}

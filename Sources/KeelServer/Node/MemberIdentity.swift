/// The member and cluster ids, derived as etcd derives them so that a Keel member started with
/// etcd's flags gets the ids etcd would give it (etcdctl prints them; dashboards key on them).
///
/// - A member's id is the first eight bytes (big-endian) of SHA-1 over its sorted peer URLs
///   joined without separator, then the cluster token, then, for a member added at runtime,
///   the Unix time of the addition in decimal.
/// - The cluster id is the first eight bytes of SHA-1 over the sorted member ids, each as eight
///   big-endian bytes.
public enum MemberIdentity {
    public static func memberID(peerURLs: [String], clusterToken: String, addedAtUnixSeconds: Int64? = nil) -> UInt64 {
        var bytes = Array(peerURLs.sorted().joined().utf8)
        bytes += Array(clusterToken.utf8)
        if let addedAtUnixSeconds { bytes += Array(String(addedAtUnixSeconds).utf8) }
        return firstEightBytes(SHA1.digest(bytes))
    }

    public static func clusterID(memberIDs: [UInt64]) -> UInt64 {
        var bytes: [UInt8] = []
        for id in memberIDs.sorted() {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: id >> UInt64(shift))) }
        }
        return firstEightBytes(SHA1.digest(bytes))
    }

    private static func firstEightBytes(_ digest: [UInt8]) -> UInt64 {
        digest[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
    }
}

import KeelRaft
import NIOCore

extension PeerTransport {
    /// Decides on a caller's hello: accepted only from a member of this cluster that this
    /// member knows, calling this member, or from a stranger (``PeerHello/isStranger``) on a
    /// requests stream. A refusal is logged here (once per connection) with
    /// the ids involved, as etcd logs a mismatched or unknown peer.
    func admit(_ hello: PeerHello, remote: SocketAddress?) -> PeerHelloReply {
        let local = environment.local
        let clusterID = environment.clusterID
        func refuse(_ status: PeerHelloReply.Status, _ reason: String) -> PeerHelloReply {
            logRefusal(reason, remote: remote, [
                .string("remote-peer-id", hex(hello.from.rawValue)),
                .string("remote-peer-cluster-id", hex(hello.clusterID)),
                .string("remote-expected-member-id", hex(hello.to.rawValue)),
            ])
            return PeerHelloReply(status: status, clusterID: clusterID, member: local, reason: reason)
        }
        if hello.isStranger {
            // A member joining an existing cluster knows neither the cluster's id nor its own
            // yet; it may ask for the member list (the request handler refuses it anything else).
            guard hello.to == .none || hello.to == local else {
                return refuse(.memberMismatch, "rejected peer connection meant for another member")
            }
            environment.log(.info, "accepted a requests connection from outside the cluster", [
                .string("local-member-id", hex(local.rawValue)), .string("remote-address", remote.map { "\($0)" } ?? "")])
            return PeerHelloReply(status: .accepted, clusterID: clusterID, member: local, reason: "")
        }
        guard hello.clusterID == clusterID else {
            return refuse(.clusterMismatch, "request cluster ID mismatch")
        }
        guard hello.to == local else {
            return refuse(.memberMismatch, "rejected peer connection meant for another member")
        }
        if wasRemoved(hello.from) {
            return refuse(.removedMember, "rejected peer connection from a member removed from the cluster")
        }
        guard peers.contains(hello.from) else {
            return refuse(.unknownMember, "rejected peer connection from a member not in the cluster")
        }
        environment.log(.debug, "accepted peer connection", environment.fields(peer: hello.from, [
            .string("stream", hello.stream.name),
            .string("remote-address", remote.map { "\($0)" } ?? "")]))
        return PeerHelloReply(status: .accepted, clusterID: clusterID, member: local, reason: "")
    }

    func logRefusal(_ message: String, remote: SocketAddress?, _ fields: [LogField]) {
        counters.handshakesRefused.bump(1)
        environment.log(.warn, message, [
            .string("local-member-id", hex(environment.local.rawValue)),
            .string("local-member-cluster-id", hex(environment.clusterID)),
        ] + fields + [.string("remote-address", remote.map { "\($0)" } ?? "")])
    }
}

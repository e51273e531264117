import KeelRaft

/// What every link and connection handler of one transport shares: settings, counters and
/// the callbacks into the server. Immutable, so any thread may hold it.
struct PeerLinkEnvironment: Sendable {
    let configuration: PeerTransportConfiguration
    let counters: PeerTransportCounters
    let log: PeerTransportLog
    let report: @Sendable (PeerReport) -> Void
    let deliver: @Sendable ([KeelRaft.Message]) -> Void

    var local: NodeID { configuration.localMember }
    var clusterID: UInt64 { configuration.clusterID }

    /// The fields etcd puts in every peer log line, then `more`.
    func fields(peer: NodeID, _ more: [LogField] = []) -> [LogField] {
        [.string("local-member-id", hex(local.rawValue)), .string("remote-peer-id", hex(peer.rawValue))] + more
    }
}

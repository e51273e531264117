import KeelRaft

/// Where a peer listens: the host and port of its peer URL.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// The address of an http peer URL ("http://10.0.0.1:2380"); nil for anything else (TLS
    /// and unix sockets are not spoken by the transport yet).
    public init?(url: String) {
        guard let parsed = try? ConfiguredURL.parse(url), parsed.scheme == "http", let port = parsed.port else { return nil }
        self.init(host: parsed.host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// What a ``PeerTransport`` needs: who this member is, where to listen, who the peers are,
/// and a limit on every queue.
public struct PeerTransportConfiguration: Sendable {
    public var clusterID: UInt64
    public var localMember: NodeID
    /// The address to listen on (port 0 picks a free one: see ``PeerTransport/port``).
    public var listen: PeerAddress
    /// Every other member and its peer address. Only these may call in, and only these are
    /// called; change at run time with ``PeerTransport/setPeer(_:address:)``.
    public var peers: [NodeID: PeerAddress]
    /// Messages waiting for one peer's connection; more are dropped (and counted).
    public var queueMessagesMax = 4096
    /// Bytes (``KeelRaft/Message/sizeBytes``) waiting for one peer's connection; more are dropped.
    public var queueBytesMax = 64 << 20
    /// The largest frame sent or accepted, header included.
    public var frameBytesMax = PeerFrameCodec.frameBytesMaxDefault
    /// Requests waiting for answers on one requests connection, either side: a caller fails
    /// more at once, a listener answers more with an error.
    public var requestsInflightMax = 1024
    /// The largest snapshot data accepted from a peer.
    public var snapshotBytesMax = 8 << 30
    /// Where incoming snapshot data is written as it arrives (the member's snap directory; see
    /// ``PeerSnapshotSink``), so it is handed over with empty data; nil: assembled in memory
    /// and handed over whole.
    public var snapshotDirectory: String?
    /// Snapshot data per chunk frame; must leave room for the header within `frameBytesMax`.
    public var snapshotChunkBytes = 256 << 10
    /// Reconnect delays: the first, and the ceiling the doubling stops at.
    public var backoffInitialMilliseconds: Int64 = 50
    public var backoffMaxMilliseconds: Int64 = 2000
    public var connectTimeoutMilliseconds: Int64 = 1000
    /// A messages connection whose written bytes stay unacknowledged by the peer's kernel this
    /// long is dropped and re-made (Linux TCP_USER_TIMEOUT; elsewhere the kernel's default).
    public var unacknowledgedTimeoutMilliseconds = 5000
    /// A snapshot whose connection makes no progress (no chunk written, no acknowledgement)
    /// for this long is given up (and reported failed to raft).
    public var snapshotStallTimeoutMilliseconds: Int64 = 30_000
    /// Seeds the jitter of the reconnect delays (each peer's generator mixes in its id).
    public var seed: UInt64 = 1

    public init(clusterID: UInt64, localMember: NodeID, listen: PeerAddress, peers: [NodeID: PeerAddress]) {
        self.clusterID = clusterID
        self.localMember = localMember
        self.listen = listen
        self.peers = peers
    }

    func validate() {
        precondition(localMember != .none && peers[localMember] == nil, "the local member is not its own peer")
        precondition(queueMessagesMax > 0 && queueBytesMax > 0 && snapshotBytesMax > 0 && requestsInflightMax > 0, "limits must be positive")
        precondition(snapshotChunkBytes > 0 && snapshotChunkBytes + PeerFrameCodec.headerBytes <= frameBytesMax,
                     "a snapshot chunk must fit in a frame")
        precondition(backoffInitialMilliseconds > 0 && backoffMaxMilliseconds >= backoffInitialMilliseconds)
    }
}

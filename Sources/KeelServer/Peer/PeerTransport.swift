import KeelIO
import KeelRaft
import NIOCore
import NIOPosix
import Synchronization

/// Carries raft messages between the members of one cluster over TCP (SwiftNIO), in the
/// frames of PeerFrameCodec.swift.
///
/// - Connections: this member listens on its peer address and keeps one long-lived outbound
///   connection to every peer (``PeerLink``); a peer's messages come in on the peer's own
///   connection to us. Each connection starts with a handshake (PeerHandshake.swift): a caller
///   from another cluster, one that is not a known member, or one that expects another member
///   at this address is refused, logged and disconnected. Lost connections are re-made with
///   exponential backoff (``PeerBackoff``).
/// - Sending: ``send(_:)`` never blocks: it queues each message for its peer (bounded; overflow
///   is dropped and counted, which raft tolerates like packet loss) and a flush on the peer's
///   event loop writes everything queued as one buffer. Order per peer is kept.
///   Snapshots go on a connection of their own (``PeerSnapshotSender``), in chunks, with
///   backpressure, so heartbeats and appends keep flowing meanwhile.
/// - Requests: ``request(to:method:payload:timeout:)`` calls a peer and waits for its answer,
///   on a third connection per peer (PeerTransport+Requests.swift, PeerRequestCodec.swift).
/// - Receiving: `deliver` gets the messages of one read from one peer, in the order sent;
///   it is called on event-loop threads, several peers at once, and must not block (post to
///   the raft loop's mailbox).
/// - Reports: `report` tells raft about lost peers and how each snapshot ended.
/// - Faults: ``partition(from:)`` drops all traffic with the given members, both ways, until
///   ``heal()``; connections stay up, as they would behind a black-holing switch... except
///   that nothing is delayed, only lost.
public final class PeerTransport: Sendable {
    public let counters = PeerTransportCounters()
    let environment: PeerLinkEnvironment
    let group: any EventLoopGroup
    /// Requests to peers and the handler of theirs (PeerTransport+Requests.swift).
    let requests: PeerRequests
    private let links = Mutex<[NodeID: PeerLink]>([:])
    private let partitioned = Mutex<Set<NodeID>>([])
    private let removedMembers = Mutex<Set<NodeID>>([])
    private let listener = Mutex<(any Channel)?>(nil)
    private let inbound = Mutex<[ObjectIdentifier: any Channel]>([:])
    /// The accepted messages connection of each member (the newest one).
    private let inboundMessages = Mutex<[NodeID: any Channel]>([:])

    /// - Parameters:
    ///   - deliver: receives incoming raft messages (see the type's contract).
    ///   - report: receives ``PeerReport``s, on any thread; must not block.
    ///   - log: receives the transport's log lines.
    public init(configuration: PeerTransportConfiguration, group: any EventLoopGroup,
                deliver: @escaping @Sendable ([KeelRaft.Message]) -> Void,
                report: @escaping @Sendable (PeerReport) -> Void, log: @escaping PeerTransportLog) {
        configuration.validate()
        self.group = group
        requests = PeerRequests(group: group)
        environment = PeerLinkEnvironment(configuration: configuration, counters: counters, log: log, report: report, deliver: deliver)
    }

    public var localMember: NodeID { environment.local }

    /// Binds the listener, then starts connecting to every peer. Returns the bound port.
    /// Not from an event-loop thread (it waits for the bind).
    @discardableResult
    public func start() throws -> Int {
        let frameBytesMax = environment.configuration.frameBytesMax
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                let key = ObjectIdentifier(channel)
                inbound.withLock { $0[key] = channel }
                channel.closeFuture.whenComplete { [self] _ in _ = inbound.withLock { $0.removeValue(forKey: key) } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PeerFrameDecoder(frameBytesMax: frameBytesMax)))
                    try channel.pipeline.syncOperations.addHandler(PeerServerHandler(transport: self))
                }
            }
            .bind(host: environment.configuration.listen.host, port: environment.configuration.listen.port)
            .wait()
        listener.withLock { $0 = channel }
        for (peer, address) in environment.configuration.peers.sorted(by: { $0.key < $1.key }) { setPeer(peer, address: address) }
        return channel.localAddress?.port ?? environment.configuration.listen.port
    }

    /// The port the listener bound (after ``start()``).
    public var port: Int? { listener.withLock { $0?.localAddress?.port } }

    /// Queues `messages` for their peers and returns at once (see the type's contract).
    /// Messages to members that are not peers, or that are partitioned away, are dropped and
    /// counted (a snapshot among them is reported failed).
    /// - Precondition: no message is local or addressed to this member.
    public func send(_ messages: [KeelRaft.Message]) {
        let cut = partitioned.withLock { $0 }
        let links = self.links.withLock { $0 }
        var order: [NodeID] = []
        var byPeer: [NodeID: [KeelRaft.Message]] = [:]
        for message in messages {
            precondition(!message.type.isLocal && message.to != environment.local, "\(message.type.rawValue) to \(message.to) is not for the network")
            guard let link = links[message.to], !cut.contains(message.to) else {
                environment.counters.messagesDropped.bump(1)
                if message.snapshot != nil {
                    environment.counters.snapshotsFailed.bump(1)
                    environment.report(.snapshot(message.to, .failed))
                }
                continue
            }
            if message.snapshot != nil {
                link.sendSnapshot(message)
            } else {
                if byPeer[message.to] == nil { order.append(message.to) }
                byPeer[message.to, default: []].append(message)
            }
        }
        for peer in order { links[peer]!.enqueue(byPeer[peer]!) }
    }

    /// Sends a snapshot message whose data is the file at `dataFile` rather than the message's:
    /// the file is read one chunk at a time as the connection takes them, and removed once the
    /// send ends or the message is dropped (the transport takes it over). Reported like any
    /// snapshot.
    func sendSnapshot(_ message: KeelRaft.Message, dataFile: String) {
        precondition(message.snapshot != nil && message.to != environment.local, "not a snapshot for a peer")
        let cut = partitioned.withLock { $0.contains(message.to) }
        guard let link = links.withLock({ $0[message.to] }), !cut else {
            try? Syscalls.unlink(dataFile)
            environment.counters.messagesDropped.bump(1)
            environment.counters.snapshotsFailed.bump(1)
            environment.report(.snapshot(message.to, .failed))
            return
        }
        link.sendSnapshot(message, dataFile: dataFile)
    }

    /// Adds a peer, moves it to a new address, or (nil) removes it: a removed member's
    /// connections close and it may no longer call in.
    public func setPeer(_ peer: NodeID, address: PeerAddress?) {
        precondition(peer != environment.local && peer != .none, "not a peer: \(peer)")
        let (added, removed) = links.withLock { links -> (PeerLink?, PeerLink?) in
            guard let address else { return (nil, links.removeValue(forKey: peer)) }
            if let link = links[peer] {
                link.setAddress(address)
                return (nil, nil)
            }
            let link = PeerLink(peer: peer, address: address, eventLoop: group.next(), environment: environment)
            links[peer] = link
            return (link, nil)
        }
        requests.setPeer(peer, address: address)
        added?.start()
        _ = removed?.stop()
    }

    /// Whether the messages connection to `peer` is up (handshake accepted) at this moment;
    /// for `etcd_network_active_peers` and for tests.
    public func isConnected(to peer: NodeID) -> Bool {
        links.withLock { $0[peer] }?.isConnected.load(ordering: .relaxed) ?? false
    }

    /// The members peers now, in increasing order.
    public var peers: [NodeID] { links.withLock { $0.keys.sorted() } }

    /// From now on drops every message to or from `members` (both directions, snapshots
    /// included), as a network partition would, until ``heal()``. Replaces an earlier set.
    public func partition(from members: Set<NodeID>) {
        partitioned.withLock { $0 = members }
    }

    /// Ends ``partition(from:)``: traffic flows again.
    public func heal() {
        partitioned.withLock { $0 = [] }
    }

    /// Makes `channel` the one messages connection from `member`, closing an older one: a
    /// member that reconnects has given up its old connection, which may be half-dead (its
    /// host vanished without a reset) and would otherwise linger, holding a socket.
    func adoptMessagesConnection(_ channel: any Channel, from member: NodeID) {
        let older = inboundMessages.withLock { $0.updateValue(channel, forKey: member) }
        channel.closeFuture.whenComplete { [self] _ in
            inboundMessages.withLock { connections in
                if connections[member] === channel { connections[member] = nil }
            }
        }
        guard let older, older !== channel else { return }
        environment.log(.info, "closed an older peer connection replaced by a new one", environment.fields(peer: member))
        older.close(promise: nil)
    }

    /// Records that `member` was removed from the cluster: its hellos are refused as
    /// `removedMember` from now on, which tells it to stop.
    public func markRemoved(_ member: NodeID) {
        removedMembers.withLock { _ = $0.insert(member) }
    }

    func wasRemoved(_ member: NodeID) -> Bool { removedMembers.withLock { $0.contains(member) } }

    func isPeer(_ member: NodeID) -> Bool { links.withLock { $0[member] != nil } }

    func isPartitioned(_ member: NodeID) -> Bool { partitioned.withLock { $0.contains(member) } }

    /// Stops listening and closes every connection; queued messages are dropped and snapshots
    /// in flight reported failed. Not from an event-loop thread (it waits for the closes).
    public func stop() {
        // Requests first: from now on none is answered (a member leaving its links behind
        // would otherwise answer "not in the cluster"); their connections close below.
        for closing in requests.stop() { try? closing.wait() }
        let listening = listener.withLock { channel in defer { channel = nil }; return channel }
        try? listening?.close().wait()
        let all = links.withLock { links in defer { links.removeAll() }; return Array(links.values) }
        for link in all { try? link.stop().wait() }
        for channel in inbound.withLock({ Array($0.values) }) { try? channel.close().wait() }
    }
}

import KeelRaft
import NIOCore
import NIOPosix

extension PeerLink {
    #if os(Linux)
    /// TCP_USER_TIMEOUT (linux/tcp.h): the kernel drops the connection once written data has
    /// gone unacknowledged this long.
    private static let tcpUserTimeout = ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: 18))
    #endif

    func connect() {
        eventLoop.preconditionInEventLoop()
        switch state {
        case .idle, .waiting: state = .connecting
        default: return
        }
        let environment = self.environment
        let hello = PeerHello(clusterID: environment.clusterID, from: environment.local, to: peer, stream: .messages)
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(environment.configuration.connectTimeoutMilliseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        #if os(Linux)
        // A peer that vanished without a reset (power loss, a cable, a black-holing firewall)
        // would otherwise keep this connection "up" for the kernel's ~15 minutes of
        // retransmissions while raft's messages pile up unacknowledged.
        bootstrap = bootstrap.channelOption(Self.tcpUserTimeout, value: environment.configuration.unacknowledgedTimeoutMilliseconds)
        #endif
        bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(PeerFrameDecoder(frameBytesMax: environment.configuration.frameBytesMax)))
                    try channel.pipeline.syncOperations.addHandler(PeerClientHandler(link: self, hello: hello))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenComplete { result in
                // Success was seen by `active` (the handler's channelActive comes first).
                if case .failure(let error) = result, case .connecting = self.state {
                    self.lost(wasReady: false, reason: "\(error)")
                }
            }
    }

    /// A connection of this link is up and its hello written.
    func active(_ channel: any Channel) {
        guard case .connecting = state else {
            channel.close(promise: nil)  // stopped, or an older attempt
            return
        }
        state = .handshaking(channel)
        channel.closeFuture.whenComplete { _ in self.closed(channel, reason: "connection closed") }
    }

    /// The listener accepted the hello: start writing.
    func accepted(_ channel: any Channel) {
        guard case .handshaking(let current) = state, current === channel else { return }
        state = .ready(channel)
        isConnected.store(true, ordering: .relaxed)
        backoff.reset()
        if everConnected { environment.counters.reconnects.bump(1) }
        everConnected = true
        environment.log(.info, "established TCP streaming connection with remote peer",
                        environment.fields(peer: peer, [.string("remote-peer-address", address.description)]))
        flush()
    }

    /// The listener refused the hello; the connection is closing.
    func refused(_ reply: PeerHelloReply) {
        environment.counters.handshakesRefused.bump(1)
        environment.log(.warn, "remote peer refused the connection", environment.fields(peer: peer, [
            .string("remote-peer-address", address.description), .string("reason", reply.reason),
            .string("remote-peer-cluster-id", hex(reply.clusterID)), .string("remote-member-id", hex(reply.member.rawValue)),
            .string("local-member-cluster-id", hex(environment.clusterID)),
        ]))
        if reply.status == .removedMember { environment.report(.removed) }
    }

    /// The socket can take more (or less): resume writing when it can.
    func writabilityChanged(_ channel: any Channel) {
        if case .ready(let current) = state, current === channel, channel.isWritable { flush() }
    }

    private func closed(_ channel: any Channel, reason: String) {
        switch state {
        case .handshaking(let current) where current === channel: lost(wasReady: false, reason: reason)
        case .ready(let current) where current === channel: lost(wasReady: true, reason: reason)
        default: break
        }
    }

    private func lost(wasReady: Bool, reason: String) {
        isConnected.store(false, ordering: .relaxed)
        let dropped = dropPending()
        if wasReady || dropped > 0 { environment.report(.unreachable(peer)) }
        // One line per outage, not one per attempt: later failures only go to debug.
        let level: LogLevel = wasReady || backoff.failures == 0 ? .warn : .debug
        let delay = backoff.nextDelayMilliseconds()
        environment.log(level, wasReady ? "lost TCP streaming connection with remote peer" : "failed to connect to remote peer",
                        environment.fields(peer: peer, [.string("remote-peer-address", address.description), .string("error", reason),
                                                        .int("dropped-messages", dropped), .int("retry-in-ms", delay)]))
        state = .waiting
        reconnect = eventLoop.scheduleTask(in: .milliseconds(delay)) { self.connect() }
    }
}

import KeelRaft
import NIOCore
import NIOPosix
import Synchronization

/// The outbound side of one peer: a queue that any thread adds to, and the one long-lived
/// connection it is written to, re-established with backoff when lost.
///
/// - Ordering: messages to the peer are written in the order `enqueue` took them, on one
///   connection. A connection loss drops what was queued (raft re-sends: it tolerates loss,
///   and reordering across a lost connection only ever looks like loss to it).
/// - Coalescing: one flush writes, as one buffer, everything queued since the last write.
/// - Backpressure: nothing is taken from the queue while the socket is not writable; the queue
///   is bounded by `queueMessagesMax` and `queueBytesMax`, and `enqueue` drops (and counts)
///   what does not fit. Dropping is safe: raft treats a lost message like a lost packet.
/// - Threads: `enqueue` from any thread; everything else runs on `eventLoop`.
final class PeerLink: @unchecked Sendable {
    // Sendable: `pending` is behind a mutex; every other var is touched only on `eventLoop`.
    let peer: NodeID
    let eventLoop: any EventLoop
    private let environment: PeerLinkEnvironment
    private let pending = Mutex(Pending())
    /// Whether the messages connection is up and accepted (read from any thread).
    let isConnected = Atomic<Bool>(false)
    private var address: PeerAddress
    private var state = State.idle
    private var backoff: PeerBackoff
    private var everConnected = false
    private var reconnect: Scheduled<Void>?
    private var snapshot: PeerSnapshotSender?

    private struct Pending {
        var messages: [KeelRaft.Message] = []
        var bytes = 0
        var flushScheduled = false
    }

    private enum State {
        case idle
        case connecting
        case handshaking(any Channel)
        case ready(any Channel)
        case waiting
        case stopped
    }

    init(peer: NodeID, address: PeerAddress, eventLoop: any EventLoop, environment: PeerLinkEnvironment) {
        self.peer = peer
        self.address = address
        self.eventLoop = eventLoop
        self.environment = environment
        let configuration = environment.configuration
        backoff = PeerBackoff(initialMilliseconds: configuration.backoffInitialMilliseconds,
                              maxMilliseconds: configuration.backoffMaxMilliseconds,
                              seed: configuration.seed ^ peer.rawValue &* 0x9E37_79B9_7F4A_7C15)
    }

    /// Queues `messages` (none a snapshot) for the peer; never blocks on the network.
    func enqueue(_ messages: [KeelRaft.Message]) {
        let limits = (environment.configuration.queueMessagesMax, environment.configuration.queueBytesMax)
        var dropped = 0
        let schedule = pending.withLock { pending -> Bool in
            for message in messages {
                let bytes = Int(clamping: message.sizeBytes)
                // An oversized message still goes alone into an empty queue.
                if pending.messages.count >= limits.0 || (!pending.messages.isEmpty && pending.bytes + bytes > limits.1) {
                    dropped += 1
                } else {
                    pending.messages.append(message)
                    pending.bytes += bytes
                }
            }
            guard !pending.flushScheduled, !pending.messages.isEmpty else { return false }
            pending.flushScheduled = true
            return true
        }
        if dropped > 0 {
            environment.counters.messagesDropped.bump(dropped)
            environment.report(.unreachable(peer))
        }
        if schedule { eventLoop.execute { self.flush() } }
    }

    /// Opens the first connection.
    func start() {
        eventLoop.execute { self.connect() }
    }

    /// Closes the connection (and any snapshot in flight); no reconnect after.
    func stop() -> EventLoopFuture<Void> {
        eventLoop.submit {
            let channel = self.channel
            self.state = .stopped
            self.isConnected.store(false, ordering: .relaxed)
            self.reconnect?.cancel()
            self.snapshot?.abort()
            _ = self.dropPending()
            return channel
        }.flatMap { channel in
            channel.map { $0.close().recover { _ in } } ?? self.eventLoop.makeSucceededVoidFuture()
        }
    }

    /// Points the link at a new address: the connection is re-made there.
    func setAddress(_ newAddress: PeerAddress) {
        eventLoop.execute {
            guard newAddress != self.address else { return }
            self.address = newAddress
            self.channel?.close(promise: nil)
        }
    }

    private var channel: (any Channel)? {
        switch state {
        case .handshaking(let channel), .ready(let channel): channel
        default: nil
        }
    }
}

extension PeerLink {
    #if os(Linux)
    /// TCP_USER_TIMEOUT (linux/tcp.h): the kernel drops the connection once written data has
    /// gone unacknowledged this long.
    private static let tcpUserTimeout = ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: 18))
    #endif

    private func connect() {
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

    /// Empties the queue (counted as dropped); returns how many messages it held.
    private func dropPending() -> Int {
        let dropped = pending.withLock { pending in
            defer { pending.messages.removeAll(); pending.bytes = 0 }
            return pending.messages.count
        }
        environment.counters.messagesDropped.bump(dropped)
        return dropped
    }

    /// Writes everything queued as one buffer and one flush, if the connection is ready and
    /// the socket writable; otherwise leaves the queue for the next chance.
    private func flush() {
        eventLoop.preconditionInEventLoop()
        guard case .ready(let channel) = state, channel.isWritable else {
            pending.withLock { $0.flushScheduled = false }
            return
        }
        let batch = pending.withLock { pending in
            defer { pending.messages.removeAll(keepingCapacity: true); pending.bytes = 0; pending.flushScheduled = false }
            return pending.messages
        }
        guard !batch.isEmpty else { return }
        let frameBytesMax = environment.configuration.frameBytesMax
        var buffer = channel.allocator.buffer(capacity: batch.reduce(0) { $0 + Int(clamping: $1.sizeBytes) + 96 })
        var written = 0
        for message in batch {
            do throws(PeerFrameError) {
                try RaftMessageCodec.encode(message, into: &buffer, frameBytesMax: frameBytesMax)
                written += 1
            } catch {
                environment.counters.messagesDropped.bump(1)
                environment.log(.warn, "dropped a raft message too large for a peer frame",
                                environment.fields(peer: peer, [.string("type", message.type.rawValue), .error(error)]))
            }
        }
        environment.counters.messagesSent.bump(written)
        environment.counters.writes.bump(1)
        environment.counters.bytesSent.bump(buffer.readableBytes)
        channel.writeAndFlush(buffer, promise: nil)
    }
}

extension PeerLink {
    /// Sends one snapshot message on a connection of its own (PeerSnapshotSender). One at a
    /// time per peer: another snapshot while one is in flight is dropped and reported failed,
    /// as raft asks a report for every snapshot message.
    func sendSnapshot(_ message: KeelRaft.Message) {
        eventLoop.execute {
            let busy = self.snapshot != nil
            if busy || { if case .stopped = self.state { true } else { false } }() {
                self.environment.counters.messagesDropped.bump(1)
                self.environment.counters.snapshotsFailed.bump(1)
                self.environment.report(.snapshot(self.peer, .failed))
                return
            }
            let sender = PeerSnapshotSender(message: message, peer: self.peer, environment: self.environment, eventLoop: self.eventLoop) { status in
                self.snapshot = nil
                self.environment.report(.snapshot(self.peer, status))
            }
            self.snapshot = sender
            sender.start(address: self.address)
        }
    }
}

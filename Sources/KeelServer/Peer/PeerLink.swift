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
    // Sendable: `pending` is behind a mutex; every var below is touched only on `eventLoop`
    // (PeerLink+Connection.swift and PeerLink+Snapshot.swift included).
    let peer: NodeID
    let eventLoop: any EventLoop
    let environment: PeerLinkEnvironment
    let pending = Mutex(Pending())
    /// Whether the messages connection is up and accepted (read from any thread).
    let isConnected = Atomic<Bool>(false)
    var address: PeerAddress
    var state = State.idle
    var backoff: PeerBackoff
    var everConnected = false
    var reconnect: Scheduled<Void>?
    var snapshot: PeerSnapshotSender?

    struct Pending {
        var messages: [KeelRaft.Message] = []
        var bytes = 0
        var flushScheduled = false
    }

    enum State {
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
        }.flatMap { (channel: (any Channel)?) -> EventLoopFuture<Void> in
            guard let channel else { return self.eventLoop.makeSucceededVoidFuture() }
            return channel.close().recover { @Sendable _ in }  // already closing on its own: fine
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

    var channel: (any Channel)? {
        switch state {
        case .handshaking(let channel), .ready(let channel): channel
        default: nil
        }
    }
}

extension PeerLink {
    /// Empties the queue (counted as dropped); returns how many messages it held.
    func dropPending() -> Int {
        let dropped = pending.withLock { pending in
            defer { pending.messages.removeAll(); pending.bytes = 0 }
            return pending.messages.count
        }
        environment.counters.messagesDropped.bump(dropped)
        return dropped
    }

    /// Writes everything queued as one buffer and one flush, if the connection is ready and
    /// the socket writable; otherwise leaves the queue for the next chance.
    func flush() {
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

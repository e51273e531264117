import KeelIO
import KeelRaft
import NIOCore
import NIOPosix

/// Sends one snapshot message to one peer on a connection of its own, then closes it.
///
/// Why a connection of its own: a snapshot can be gigabytes; on the messages connection it
/// would sit in front of every heartbeat and append for as long as it takes to send. On its
/// own connection the kernel and the peer share the link between the two streams, and raft's
/// heartbeats keep the follower from starting an election meanwhile. Raft does not need the
/// snapshot ordered with other messages: it sends the follower nothing else until told how the
/// snapshot ended (``PeerReport/snapshot(_:_:)``) or the follower answers.
///
/// Flow: hello (stream `snapshot`) → reply → snapshotBegin frame → chunk frames, each written
/// only while the channel is writable (NIO's high/low water marks: at most about 64 KiB plus
/// one chunk is buffered in the process) → the receiver's snapshotAck → `finished`. Any
/// close, refusal or stall (no progress for `snapshotStallTimeoutMilliseconds`) → `failed`.
/// `done` is called exactly once, on the event loop.
final class PeerSnapshotSender: ChannelInboundHandler {
    typealias InboundIn = PeerFrame
    typealias OutboundOut = ByteBuffer

    private let message: KeelRaft.Message
    private let source: PeerSnapshotSource
    private let peer: NodeID
    private let environment: PeerLinkEnvironment
    private let eventLoop: any EventLoop
    private let done: (RawNode.SnapshotStatus) -> Void
    private var phase = Phase.connecting
    private var channel: (any Channel)?
    private var offset = 0
    private var stallTimer: Scheduled<Void>?
    private var writing = false

    private enum Phase { case connecting, handshaking, streaming, awaitingAck, finished }

    /// `source` nil: the data is the message's.
    init(message: KeelRaft.Message, source: PeerSnapshotSource? = nil, peer: NodeID, environment: PeerLinkEnvironment,
         eventLoop: any EventLoop, done: @escaping (RawNode.SnapshotStatus) -> Void) {
        precondition(message.snapshot != nil)
        self.source = source ?? PeerSnapshotSource(bytes: message.snapshot!.data)
        var message = message
        message.snapshot!.data = []  // the source holds it
        self.message = message
        self.peer = peer
        self.environment = environment
        self.eventLoop = eventLoop
        self.done = done
    }

    /// Connects to `address` and starts the exchange (on the event loop).
    func start(address: PeerAddress) {
        eventLoop.preconditionInEventLoop()
        let frameBytesMax = environment.configuration.frameBytesMax
        // Sendable: the bootstrap's closures run on `eventLoop`, the only thread that touches this sender.
        let sender = UncheckedBox(self)
        restartStallTimer()
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(environment.configuration.connectTimeoutMilliseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PeerFrameDecoder(frameBytesMax: frameBytesMax)))
                    try channel.pipeline.syncOperations.addHandler(sender.value)
                }
            }
            .connect(host: address.host, port: address.port)
            .whenFailure { error in sender.value.finish(.failed, reason: "\(error)") }
    }

    /// Gives up (the transport stops); `done(.failed)` unless it already finished.
    func abort() {
        finish(.failed, reason: "transport stopped")
    }

    func channelActive(context: ChannelHandlerContext) {
        guard phase == .connecting else { context.close(promise: nil); return }
        channel = context.channel
        phase = .handshaking
        var buffer = context.channel.allocator.buffer(capacity: 48)
        PeerHello(clusterID: environment.clusterID, from: environment.local, to: peer, stream: .snapshot).write(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch (phase, frame.kind) {
        case (.handshaking, .helloReply):
            guard let reply = try? PeerHelloReply.read(frame.body), reply.status == .accepted else {
                finish(.failed, reason: "the peer refused the snapshot connection")
                return
            }
            phase = .streaming
            var buffer = context.channel.allocator.buffer(capacity: 256)
            do throws(PeerFrameError) {
                try RaftMessageCodec.encodeSnapshotBegin(message, dataBytes: source.count, into: &buffer,
                                                         frameBytesMax: environment.configuration.frameBytesMax)
            } catch {
                finish(.failed, reason: "\(error)")
                return
            }
            context.write(wrapOutboundOut(buffer), promise: nil)
            writeChunks(context)
        case (.awaitingAck, .snapshotAck):
            environment.counters.messagesSent.bump(1)
            environment.counters.snapshotsSent.bump(1)
            finish(.finished, reason: "")
        default:
            finish(.failed, reason: "unexpected \(frame.kind) frame on a snapshot connection")
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if phase == .streaming { writeChunks(context) }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failed, reason: "connection closed before the snapshot was acknowledged")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failed, reason: "\(error)")
    }

    /// Writes chunks while the socket takes them; the rest waits for writability.
    ///
    /// NIO reports writability changes from inside `write` and `flush`, so this is re-entered
    /// while it runs: `writing` turns the inner calls away (they would resend a chunk whose
    /// `offset` is not advanced yet), and the outer loop checks writability again after each
    /// flush so that an event it turned away is not lost.
    private func writeChunks(_ context: ChannelHandlerContext) {
        guard !writing else { return }
        writing = true
        defer { writing = false }
        let total = source.count
        let chunkBytes = environment.configuration.snapshotChunkBytes
        let frameBytesMax = environment.configuration.frameBytesMax
        var wrote = false
        repeat {
            while offset < total && context.channel.isWritable {
                let start = offset
                offset = min(total, start + chunkBytes)
                var buffer = context.channel.allocator.buffer(capacity: offset - start + PeerFrameCodec.headerBytes)
                var failure: KeelIO.IOError?
                try! PeerFrameCodec.write(.snapshotChunk, into: &buffer, frameBytesMax: frameBytesMax) { body in
                    do throws(KeelIO.IOError) { try source.write(start..<offset, into: &body) } catch { failure = error }
                }
                if let failure { return finish(.failed, reason: "reading the snapshot data: \(failure)") }
                environment.counters.bytesSent.bump(buffer.readableBytes)
                context.write(wrapOutboundOut(buffer), promise: nil)
                wrote = true
            }
            if offset == total && phase == .streaming { phase = .awaitingAck }
            context.flush()
        } while phase == .streaming && offset < total && context.channel.isWritable
        if wrote { restartStallTimer() }
    }

    private func restartStallTimer() {
        stallTimer?.cancel()
        let sender = UncheckedBox(self)
        stallTimer = eventLoop.scheduleTask(in: .milliseconds(environment.configuration.snapshotStallTimeoutMilliseconds)) {
            sender.value.finish(.failed, reason: "no progress for \(sender.value.environment.configuration.snapshotStallTimeoutMilliseconds) ms")
        }
    }

    private func finish(_ status: RawNode.SnapshotStatus, reason: String) {
        guard phase != .finished else { return }
        phase = .finished
        stallTimer?.cancel()
        channel?.close(promise: nil)
        source.close()
        if status == .failed {
            environment.counters.snapshotsFailed.bump(1)
            environment.log(.warn, "failed to send database snapshot to remote peer", environment.fields(peer: peer, [
                .int("snapshot-index", message.snapshot!.metadata.index.rawValue),
                .int("snapshot-bytes", source.count), .string("error", reason)]))
        }
        done(status)
    }
}

/// Carries a loop-confined object through a `@Sendable` closure that runs on that same loop.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

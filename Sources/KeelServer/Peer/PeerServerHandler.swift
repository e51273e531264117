import KeelIO
import KeelRaft
import NIOCore

/// One accepted peer connection: checks the caller's hello (``PeerTransport/admit(_:remote:)``),
/// answers it, then reads what the stream carries — raft messages, handed to the raft loop
/// in batches of one read, or one snapshot, assembled from its chunks, handed over whole
/// and acknowledged, or requests, each answered when the transport's handler completes it. Anything out of place is a protocol error: logged, connection closed.
final class PeerServerHandler: ChannelInboundHandler {
    typealias InboundIn = PeerFrame
    typealias OutboundOut = ByteBuffer

    private let transport: PeerTransport
    private var environment: PeerLinkEnvironment { transport.environment }
    private var phase = Phase.awaitingHello
    private var batch: [KeelRaft.Message] = []
    /// Requests on a requests connection whose answers are not written yet.
    private var requestsInflight = 0

    private enum Phase {
        case awaitingHello
        case messages(from: NodeID)
        case snapshot(from: NodeID)
        /// Between snapshotBegin and the last chunk; the parts are in `incoming`.
        case receivingSnapshot(from: NodeID)
        /// A requests connection; `.none` for a caller outside the cluster.
        case requests(from: NodeID)
        case closing
    }

    /// The snapshot being received: its message (data empty), where its data goes, the total.
    private var incoming: (message: KeelRaft.Message, sink: PeerSnapshotSink, bytes: Int)?

    init(transport: PeerTransport) {
        self.transport = transport
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        environment.counters.bytesReceived.bump(frame.body.readableBytes + PeerFrameCodec.headerBytes)
        do throws(PeerFrameError) {
            switch (phase, frame.kind) {
            case (.awaitingHello, .hello): try hello(frame.body, context: context)
            case (.messages(let from), .message):
                var body = frame.body
                let message = try RaftMessageCodec.readBody(&body, snapshotData: true).message
                try check(message, from: from)
                batch.append(message)
            case (.snapshot(let from), .snapshotBegin): try beginSnapshot(frame.body, from: from, context: context)
            case (.receivingSnapshot, .snapshotChunk): try chunk(frame.body, context: context)
            case (.requests(let from), .request): try request(frame.body, from: from, context: context)
            case (.closing, _): break
            default: throw .malformed("unexpected \(frame.kind) frame")
            }
        } catch {
            protocolError(error, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        deliverBatch(context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deliverBatch(context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .awaitingHello = phase, let frameError = error as? PeerFrameError, case .unsupportedVersion(let version) = frameError {
            // Answer in our own version so the caller can log why, then hang up.
            transport.logRefusal("rejected peer connection with an unsupported protocol version", remote: context.remoteAddress,
                                 [.int("remote-protocol-version", version), .int("local-protocol-version", PeerFrameCodec.version)])
            refuse(PeerHelloReply(status: .unsupportedVersion, clusterID: environment.clusterID, member: environment.local,
                                  reason: "peer protocol version \(version) is not supported; this member speaks \(PeerFrameCodec.version)"),
                   context: context)
            return
        }
        protocolError(error, context: context)
    }

    private func hello(_ body: ByteBuffer, context: ChannelHandlerContext) throws(PeerFrameError) {
        let hello = try PeerHello.read(body)
        let reply = transport.admit(hello, remote: context.remoteAddress)
        guard reply.status == .accepted else {
            refuse(reply, context: context)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        reply.write(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        if hello.stream == .requests {
            phase = .requests(from: hello.from)
        } else if hello.stream == .messages {
            phase = .messages(from: hello.from)
            transport.adoptMessagesConnection(context.channel, from: hello.from)
        } else {
            phase = .snapshot(from: hello.from)
        }
    }

    private func refuse(_ reply: PeerHelloReply, context: ChannelHandlerContext) {
        phase = .closing
        var buffer = context.channel.allocator.buffer(capacity: 128)
        reply.write(into: &buffer)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// A message on this connection must come from the member that said hello, to this member.
    private func check(_ message: KeelRaft.Message, from: NodeID) throws(PeerFrameError) {
        guard message.from == from, message.to == environment.local else {
            throw .malformed("a \(message.type.rawValue) message from \(hex(message.from.rawValue)) to \(hex(message.to.rawValue)) on the connection of \(hex(from.rawValue))")
        }
    }

    private func beginSnapshot(_ body: ByteBuffer, from: NodeID, context: ChannelHandlerContext) throws(PeerFrameError) {
        var body = body
        let (message, dataBytes) = try RaftMessageCodec.readBody(&body, snapshotData: false)
        try check(message, from: from)
        guard message.snapshot != nil else { throw .malformed("a snapshotBegin frame without a snapshot") }
        guard dataBytes <= UInt64(environment.configuration.snapshotBytesMax) else {
            throw .malformed("a snapshot of \(dataBytes) bytes exceeds the limit of \(environment.configuration.snapshotBytesMax)")
        }
        let sink: PeerSnapshotSink
        do throws(KeelIO.IOError) {
            sink = try PeerSnapshotSink(directory: environment.configuration.snapshotDirectory,
                                        index: message.snapshot!.metadata.index, bytes: Int(dataBytes))
        } catch {
            return snapshotFileFailed(error, from: from, context: context)
        }
        incoming = (message, sink, Int(dataBytes))
        phase = .receivingSnapshot(from: from)
        if dataBytes == 0 { try chunk(ByteBuffer(), context: context) }
    }

    private func chunk(_ body: ByteBuffer, context: ChannelHandlerContext) throws(PeerFrameError) {
        guard case .receivingSnapshot(let from) = phase, let (announced, sink, bytes) = incoming else { return }
        guard sink.count + body.readableBytes <= bytes else {
            throw .malformed("snapshot chunks run past the announced \(bytes) bytes")
        }
        var message = announced
        do throws(KeelIO.IOError) {
            try sink.append(body)
            guard sink.count == bytes else { return }
            message.snapshot!.data = try sink.finish()
        } catch {
            return snapshotFileFailed(error, from: from, context: context)
        }
        incoming = nil
        phase = .closing  // the sender closes after the acknowledgement
        guard !transport.isPartitioned(from) else {
            // No acknowledgement: the sender reports the snapshot failed, as a partition would.
            environment.counters.messagesDroppedInbound.bump(1)
            context.close(promise: nil)
            return
        }
        environment.counters.messagesReceived.bump(1)
        environment.counters.snapshotsReceived.bump(1)
        environment.deliver([message])
        var buffer = context.channel.allocator.buffer(capacity: PeerFrameCodec.headerBytes)
        try! PeerFrameCodec.write(.snapshotAck, into: &buffer, frameBytesMax: .max) { _ in }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// The snapshot's file could not be written: no acknowledgement (the sender reports the
    /// snapshot failed and raft sends it again later); the connection closes.
    private func snapshotFileFailed(_ error: KeelIO.IOError, from: NodeID, context: ChannelHandlerContext) {
        environment.log(.warn, "failed to write an incoming database snapshot", environment.fields(peer: from, [.error(error)]))
        incoming?.sink.discard()
        incoming = nil
        phase = .closing
        context.close(promise: nil)
    }

    private func deliverBatch(_ context: ChannelHandlerContext) {
        guard !batch.isEmpty else { return }
        let messages = batch
        batch.removeAll(keepingCapacity: true)
        guard case .messages(let from) = phase, !transport.isPartitioned(from) else {
            environment.counters.messagesDroppedInbound.bump(messages.count)
            return
        }
        guard transport.isPeer(from) else {
            // Removed from the cluster since its hello: its connection goes with it.
            environment.log(.warn, "closed peer connection of a removed member", environment.fields(peer: from))
            phase = .closing
            context.close(promise: nil)
            return
        }
        environment.counters.messagesReceived.bump(messages.count)
        environment.deliver(messages)
    }

    private func protocolError(_ error: any Error, context: ChannelHandlerContext) {
        if case .closing = phase { return }
        let peer: NodeID? = switch phase {
        case .messages(let from), .snapshot(let from), .receivingSnapshot(let from), .requests(let from): from
        default: nil
        }
        phase = .closing
        batch.removeAll()
        incoming = nil
        environment.log(.warn, "closed peer connection after a protocol error", [
            .string("local-member-id", hex(environment.local.rawValue)),
            .string("remote-peer-id", peer.map { hex($0.rawValue) } ?? ""),
            .string("remote-address", context.remoteAddress.map { "\($0)" } ?? ""), .error(error)])
        context.close(promise: nil)
    }
}

// MARK: - Requests

extension PeerServerHandler {
    /// Serves one request and writes its answer when the handler completes, in whatever order
    /// that is. Beyond `requestsInflightMax` waiting answers a request is answered at once
    /// with an error; a request from a partitioned member is dropped (the caller times out), and
    /// so is one that arrives while the transport stops (the caller sees the connection close).
    private func request(_ body: ByteBuffer, from caller: NodeID, context: ChannelHandlerContext) throws(PeerFrameError) {
        let request = try PeerRequestFrame.read(body)
        guard caller == .none || !transport.isPartitioned(caller), !transport.requests.isStopped else { return }
        let limit = environment.configuration.requestsInflightMax
        guard requestsInflight < limit else {
            return respond(PeerResponseFrame(id: request.id, status: .failed, error: "\(limit) peer requests already wait for answers", payload: []),
                           channel: context.channel)
        }
        requestsInflight += 1
        // The answer comes back on this channel's loop, where the handler lives; it is written
        // to the channel, not the context, which is gone if the connection closed meanwhile.
        let handler = UncheckedBox((self, context.channel))
        transport.serve(request, from: caller, on: context.eventLoop).whenSuccess { response in
            let (server, channel) = handler.value
            server.requestsInflight -= 1
            server.respond(response, channel: channel)
        }
    }

    private func respond(_ response: PeerResponseFrame, channel: any Channel) {
        guard case .requests = phase, channel.isActive else { return }
        let frameBytesMax = environment.configuration.frameBytesMax
        var buffer = channel.allocator.buffer(capacity: PeerFrameCodec.headerBytes + 16 + response.error.utf8.count + response.payload.count)
        do throws(PeerFrameError) {
            try response.write(into: &buffer, frameBytesMax: frameBytesMax)
        } catch {
            let refusal = PeerResponseFrame(id: response.id, status: .failed, error: "the answer does not fit in a peer frame: \(error)", payload: [])
            try! refusal.write(into: &buffer, frameBytesMax: frameBytesMax)
        }
        environment.counters.bytesSent.bump(buffer.readableBytes)
        channel.writeAndFlush(buffer, promise: nil)
    }
}

import KeelRaft
import NIOCore
import NIOPosix

/// The caller's side of one requests connection (stream 3, PeerRequestCodec.swift): it
/// connects on the first ``call(_:payload:timeout:)``, says hello, then writes each request
/// as it comes and matches each response to its request by id, in whatever order they arrive.
///
/// - Timeouts: each request fails with `timedOut` once its timeout passes; a response after
///   that is ignored.
/// - Failure: a refused hello, a failed connect, a protocol error or a close fails every
///   request still waiting, and the connection is finished for good: ``closed`` tells its owner,
///   which makes a new one for the next request (so a peer that restarted is called again).
/// - Limits: at most `inflightMax` requests wait at once; each frame at most `frameBytesMax`.
/// - Threads: ``call(_:payload:timeout:)`` and ``stop()`` from any thread; everything else on
///   `eventLoop`, which every returned future completes on.
final class PeerRequestConnection: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked Sendable: every var is touched only on `eventLoop`.
    typealias InboundIn = PeerFrame
    typealias OutboundOut = ByteBuffer

    struct Settings: Sendable {
        var hello: PeerHello
        var address: PeerAddress
        var frameBytesMax: Int
        var connectTimeoutMilliseconds: Int64
        /// TCP_USER_TIMEOUT (Linux), as on the messages connection: without it, a peer that
        /// vanished without a reset keeps this connection "up" for the kernel's ~15 minutes,
        /// and every request on it times out.
        var unacknowledgedTimeoutMilliseconds: Int
        var inflightMax: Int
    }

    #if os(Linux)
    private static let tcpUserTimeout = ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: 18))
    #endif

    let eventLoop: any EventLoop
    let settings: Settings
    /// Called once, on `eventLoop`, when the connection is finished.
    private let closed: @Sendable (PeerRequestConnection) -> Void
    private var state = State.idle
    /// Requests written once the hello is accepted.
    private var waiting: [ByteBuffer] = []
    private var pending: [UInt64: (promise: EventLoopPromise<[UInt8]>, timer: Scheduled<Void>)] = [:]
    private var nextID: UInt64 = 1
    /// The listener's accepted hello reply: its cluster id and member id.
    private(set) var reply: PeerHelloReply?

    private enum State {
        case idle
        case connecting
        case handshaking(any Channel)
        case ready(any Channel)
        case finished(PeerRequestError)
    }

    init(settings: Settings, eventLoop: any EventLoop, closed: @escaping @Sendable (PeerRequestConnection) -> Void) {
        precondition(settings.inflightMax > 0 && settings.frameBytesMax > PeerFrameCodec.headerBytes + PeerRequestFrame.fixedBytes)
        self.settings = settings
        self.eventLoop = eventLoop
        self.closed = closed
    }

    /// Sends one request; the future (on `eventLoop`) has the response payload, or fails with a
    /// ``PeerRequestError``.
    func call(_ method: PeerMethod, payload: [UInt8], timeout: TimeAmount) -> EventLoopFuture<[UInt8]> {
        let promise = eventLoop.makePromise(of: [UInt8].self)
        eventLoop.execute { self.start(method, payload: payload, timeout: timeout, promise: promise) }
        return promise.futureResult
    }

    /// Fails every waiting request with `stopped` and closes the connection.
    func stop() -> EventLoopFuture<Void> {
        eventLoop.submit { self.finish(.stopped) }
    }

    private func start(_ method: PeerMethod, payload: [UInt8], timeout: TimeAmount, promise: EventLoopPromise<[UInt8]>) {
        if case .finished(let error) = state { return promise.fail(error) }
        guard pending.count < settings.inflightMax else { return promise.fail(PeerRequestError.tooManyInflight(pending.count)) }
        let id = nextID
        nextID += 1
        var buffer = ByteBufferAllocator().buffer(capacity: PeerFrameCodec.headerBytes + PeerRequestFrame.fixedBytes + payload.count)
        do throws(PeerFrameError) {
            try PeerRequestFrame(id: id, method: method.rawValue, payload: payload).write(into: &buffer, frameBytesMax: settings.frameBytesMax)
        } catch {
            return promise.fail(PeerRequestError.tooLarge(error))
        }
        let timer = eventLoop.scheduleTask(in: timeout) { () -> Void in
            guard let expired = self.pending.removeValue(forKey: id) else { return }
            expired.promise.fail(PeerRequestError.timedOut(milliseconds: timeout.nanoseconds / 1_000_000))
        }
        pending[id] = (promise, timer)
        switch state {
        case .ready(let channel): channel.writeAndFlush(buffer, promise: nil)
        case .idle:
            waiting.append(buffer)
            connect()
        default: waiting.append(buffer)
        }
    }

    private func connect() {
        state = .connecting
        let frameBytesMax = settings.frameBytesMax
        // The bootstrap's closures run on `eventLoop`, the only thread that touches this object.
        let handler = UncheckedBox(self)
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(settings.connectTimeoutMilliseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        #if os(Linux)
        bootstrap = bootstrap.channelOption(Self.tcpUserTimeout, value: settings.unacknowledgedTimeoutMilliseconds)
        #endif
        bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PeerFrameDecoder(frameBytesMax: frameBytesMax)))
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
            .connect(host: settings.address.host, port: settings.address.port)
            .whenFailure { error in handler.value.finish(.connectionLost("cannot connect to \(handler.value.settings.address): \(error)")) }
    }

    func channelActive(context: ChannelHandlerContext) {
        guard case .connecting = state else { return context.close(promise: nil) }
        state = .handshaking(context.channel)
        var buffer = context.channel.allocator.buffer(capacity: 48)
        settings.hello.write(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do throws(PeerFrameError) {
            switch (state, frame.kind) {
            case (.handshaking, .helloReply):
                let reply = try PeerHelloReply.read(frame.body)
                guard reply.status == .accepted else { return finish(.handshakeRefused(reply.reason)) }
                self.reply = reply
                state = .ready(context.channel)
                for buffer in waiting { context.write(wrapOutboundOut(buffer), promise: nil) }
                waiting.removeAll()
                context.flush()
            case (.ready, .response):
                let response = try PeerResponseFrame.read(frame.body)
                // Unknown ids are answers to requests that timed out meanwhile.
                guard let (promise, timer) = pending.removeValue(forKey: response.id) else { return }
                timer.cancel()
                if response.status == .ok {
                    promise.succeed(response.payload)
                } else {
                    promise.fail(PeerRequestError.failed(response.status, response.error))
                }
            case (.finished, _): break
            default: throw .malformed("unexpected \(frame.kind) frame on a requests connection")
            }
        } catch {
            finish(.connectionLost("\(error)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.connectionLost("connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.connectionLost("\(error)"))
    }

    /// Ends the connection for good: every waiting request fails with `error` (in id order).
    private func finish(_ error: PeerRequestError) {
        eventLoop.preconditionInEventLoop()
        let channel: (any Channel)?
        switch state {
        case .finished: return
        case .handshaking(let current), .ready(let current): channel = current
        case .idle, .connecting: channel = nil
        }
        state = .finished(error)
        // The owner forgets this connection first, so that a caller woken by a failure below
        // and asking again gets a new connection.
        closed(self)
        waiting.removeAll()
        let failed = pending.sorted { $0.key < $1.key }
        pending.removeAll()
        for (_, request) in failed {
            request.timer.cancel()
            request.promise.fail(error)
        }
        channel?.close(promise: nil)
    }
}

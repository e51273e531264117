import NIOCore
import NIOHPACK

/// The client side of one HTTP/2 connection (RFC 9113, prior knowledge, no TLS) carrying gRPC
/// calls, spoken directly on the connection's channel: no stream channels, no per-stream
/// pipelines, one handler and one small object per call.
///
/// Everything lives on the connection's event loop. Frames are written into one pending buffer
/// that goes to the socket once per round of the loop: the first write of a round schedules
/// the flush as a task, later writes join it, so a hundred calls answered in one read go out
/// in one `write`.
///
/// What it does of HTTP/2: the preface and SETTINGS exchange, PING answers, flow control both
/// ways (queued DATA per stream; WINDOW_UPDATEs once half a window is consumed), the server's
/// MAX_CONCURRENT_STREAMS (calls beyond it wait), MAX_FRAME_SIZE, header blocks across
/// CONTINUATION frames, padding, RST_STREAM, GOAWAY. Its header blocks never use HPACK's
/// dynamic table (`HTTP2HeaderBlock`); the server's are gathered and decoded by an
/// `HTTP2HeaderBlockReader`, which sees every block in order, for streams already forgotten too.
///
/// A protocol error of the server's (a malformed frame, a bad size) is answered with GOAWAY
/// and the connection is closed; every call then fails with UNAVAILABLE, as it does when the
/// connection is lost.
final class GRPCClientConnection: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State {
        /// Not connected yet: nothing was sent; calls wait.
        case idle
        case open
        /// Closed or failed: new calls fail at once.
        case closed
    }

    let configuration: GRPCConnectionConfiguration
    /// The request header fields every call shares, before and after its `:path`.
    let headerBlockHead: [UInt8]
    let headerBlockTail: [UInt8]

    var context: ChannelHandlerContext?
    var state = State.idle

    // Outbound bytes of this round of the event loop.
    var pending: ByteBuffer
    var flushScheduled = false
    /// Sends that complete when this round's bytes were written.
    var flushPromises: [EventLoopPromise<Void>] = []

    // Inbound.
    var inbound: ByteBuffer
    /// A header block may not outgrow what its decoded list may hold by much.
    var headerBlocks = HTTP2HeaderBlockReader(
        headerListBytesMax: GRPCClientConnection.headerListBytesMax, blockBytesMax: 2 * GRPCClientConnection.headerListBytesMax)
    var receivedSettings = false

    // The server's settings.
    var peerMaxFrameBytes = HTTP2Wire.maxFrameSizeDefault
    var peerInitialWindowBytes = HTTP2Wire.windowDefault
    var peerConcurrentStreamsMax = Int.max
    var peerHeaderTableBytes = 4096
    /// The next header block must start with a dynamic table size update.
    var tableSizeUpdateDue = true

    // Flow control of the connection as a whole.
    var connectionSendWindow = HTTP2Wire.windowDefault
    /// What the server may send on the connection; raised to the configured size at start.
    var connectionReceiveWindow: HTTP2ReceiveWindow
    /// Calls with DATA queued that wait for connection window, first come first served.
    var waitingForConnectionWindow: [GRPCClientCall] = []

    // Streams.
    var nextStreamID: UInt32 = 1
    /// Calls with an open stream. A call leaves when it ends (its stream then is closed or
    /// reset), so every call here is still running.
    var streams: [UInt32: GRPCClientCall] = [:]
    /// Calls waiting for a stream under the server's MAX_CONCURRENT_STREAMS, in order.
    var waitingForStream = CircularBuffer<GRPCClientCall>(initialCapacity: 4)
    /// The server's GOAWAY: streams above it were not and will not be processed, and no new
    /// streams may be opened.
    var goAwayLastStreamID: UInt32?

    init(authority: String, configuration: GRPCConnectionConfiguration) {
        precondition(configuration.streamWindowBytes > 0 && configuration.streamWindowBytes <= HTTP2Wire.windowMax)
        precondition(configuration.connectionWindowBytes <= HTTP2Wire.windowMax)
        self.configuration = configuration
        var head = ByteBuffer()
        HTTP2HeaderBlock.writeIndexed(HTTP2HeaderBlock.Static.methodPost, into: &head)
        HTTP2HeaderBlock.writeIndexed(HTTP2HeaderBlock.Static.schemeHTTP, into: &head)
        headerBlockHead = Array(head.readableBytesView)
        var tail = ByteBuffer()
        HTTP2HeaderBlock.writeLiteral(nameIndex: HTTP2HeaderBlock.Static.authority, value: authority.utf8, into: &tail)
        HTTP2HeaderBlock.writeLiteral(
            nameIndex: HTTP2HeaderBlock.Static.contentType, value: GRPCHeaders.contentType.utf8, into: &tail)
        HTTP2HeaderBlock.writeLiteral(name: "te".utf8, value: "trailers".utf8, into: &tail)
        HTTP2HeaderBlock.writeLiteral(nameIndex: HTTP2HeaderBlock.Static.userAgent, value: "keel-grpc".utf8, into: &tail)
        headerBlockTail = Array(tail.readableBytesView)
        pending = ByteBuffer()
        inbound = ByteBuffer()
        connectionReceiveWindow = HTTP2ReceiveWindow(size: max(configuration.connectionWindowBytes, HTTP2Wire.windowDefault))
    }

    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertise (and decode up to), as Keel's server does.
    static let headerListBytesMax = 16 * 1024

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        pending = context.channel.allocator.buffer(capacity: 1024)
        if context.channel.isActive { start() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(GRPCStatus(.unavailable, "the stream closed before the call ended"))
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(GRPCStatus(.unavailable, "the stream closed before the call ended"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A socket error (such as a reset connection): the connection is done for.
        fail(GRPCStatus(.unavailable, "connection error: \(error)"))
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard state == .open else { return }
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        do {
            while state == .open,
                let (header, payload) = try inbound.readHTTP2Frame(payloadBytesMax: HTTP2Wire.maxFrameSizeDefault)
            {
                try receive(header, payload)
            }
        } catch {
            connectionError(error)
        }
        if inbound.readableBytes == 0 {
            inbound = ByteBuffer()
        } else if inbound.readerIndex > 0 {
            // A partial frame waits for the next read: keep only it.
            inbound.discardReadBytes()
        }
    }

    /// Closing sends what this round wrote first (a last RST_STREAM, say).
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        flushNow()
        context.close(mode: mode, promise: promise)
    }

    // MARK: Connection lifecycle

    /// The preface and our SETTINGS, then the connection window raised to the configured size.
    private func start() {
        guard state == .idle else { return }
        state = .open
        pending.writeBytes(HTTP2Wire.preface)
        pending.writeHTTP2Settings([
            (.initialWindowSize, configuration.streamWindowBytes),
            (.maxHeaderListSize, Self.headerListBytesMax),
            (.enablePush, 0),
        ])
        let raise = configuration.connectionWindowBytes - HTTP2Wire.windowDefault
        if raise > 0 {
            pending.writeHTTP2WindowUpdate(streamID: 0, increment: raise)
        }
        openWaitingCalls()  // Calls made before the connection was up.
        flushNow()
    }

    /// The connection is unusable: every call, open or waiting, ends with `status`.
    func fail(_ status: GRPCStatus) {
        guard state != .closed else { return }
        state = .closed
        flushPromises.forEach { $0.fail(status) }
        flushPromises = []
        let open = streams.keys.sorted().map { streams[$0]! }
        streams = [:]
        waitingForConnectionWindow = []
        var waiting: [GRPCClientCall] = []
        while let call = waitingForStream.popFirst() { waiting.append(call) }
        for call in open {
            end(call, .finished(status), notify: .nothing)
        }
        for call in waiting {
            end(call, .failed(GRPCStatus(.unavailable, "cannot open a stream: \(status.message)")), notify: .nothing)
        }
    }

    /// A protocol error of the server's: GOAWAY with its code, every call fails, close.
    func connectionError(_ error: any Error) {
        let connection = error as? HTTP2Wire.ConnectionError ?? HTTP2Wire.ConnectionError(.internalError, "\(error)")
        guard state == .open else { return }
        pending.writeHTTP2GoAway(lastStreamID: 0, code: connection.code, message: connection.message)
        flushNow()
        fail(GRPCStatus(.unavailable, "connection error: \(connection.code) \(connection.message)"))
        context?.close(promise: nil)
    }

    // MARK: Writing

    /// Sends this round's bytes after the tasks already queued on the loop have run.
    func scheduleFlush() {
        guard !flushScheduled, let context else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushNow()
        }
    }

    /// Writes and flushes what is pending, completing the sends it finished.
    func flushNow() {
        flushScheduled = false
        guard let context, pending.readableBytes > 0 else { return }
        let bytes = pending
        pending = context.channel.allocator.buffer(capacity: min(max(bytes.readableBytes, 1024), 64 * 1024))
        var promise: EventLoopPromise<Void>?
        switch flushPromises.count {
        case 0: break
        case 1: promise = flushPromises[0]
        default:
            let all = context.eventLoop.makePromise(of: Void.self)
            let waiting = flushPromises
            all.futureResult.assumeIsolated().whenComplete { result in
                for each in waiting { each.completeWith(result) }
            }
            promise = all
        }
        flushPromises.removeAll(keepingCapacity: true)
        context.writeAndFlush(wrapOutboundOut(bytes), promise: promise)
    }
}

import NIOCore

/// One HTTP/2 connection of the client port, each stream served as a `GRPCServerCall`.
///
/// Keel speaks HTTP/2 here itself, on the connection's bytes, instead of through
/// swift-nio-http2's handler and multiplexer: those give every call a channel, a pipeline and
/// several promises, and cost about as much CPU as all the rest of a put (measured: ~60% of
/// the server's CPU per put went to the HTTP/2 and gRPC path). A call here is one object in a
/// table keyed by stream id.
///
/// What it keeps of HTTP/2 (RFC 9113): the preface and SETTINGS exchange, PING answers, flow
/// control both ways (a window per stream and one for the connection; DATA beyond a window
/// waits per stream, in the order the streams blocked), header blocks across CONTINUATION
/// frames, padding, resets both ways, MAX_CONCURRENT_STREAMS (streams beyond it are refused),
/// and GOAWAY on a connection error. Request header blocks are gathered and decoded by an
/// `HTTP2HeaderBlockReader` (NIOHPACK's decoder); response blocks are written without the
/// dynamic table (`HTTP2HeaderBlock`).
/// A peer that floods PING/SETTINGS/PRIORITY or resets beyond the configured rates, or sends
/// a header block above `headerBlockBytesMax`, gets GOAWAY(ENHANCE_YOUR_CALM) and is closed.
///
/// Output: frames are appended to one buffer that is written and flushed once per round of
/// the event loop (or when it passes `outputFlushBytes`), so the answers a group commit
/// completes together leave in one socket write.
final class GRPCServerConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A header block (HEADERS and its CONTINUATIONs) larger than this closes the connection.
    static let headerBlockBytesMax = 64 * 1024
    /// Output is handed to the socket early once this many bytes wait.
    static let outputFlushBytes = 64 * 1024

    let methods: GRPCMethodTable
    let configuration: GRPCConnectionConfiguration
    let eventLoop: any EventLoop
    let allocator = ByteBufferAllocator()
    private let count: StreamCount
    private(set) var context: ChannelHandlerContext?

    private var input: ByteBuffer?
    private var prefaceSeen = false
    private var settingsSeen = false
    var output = ByteBuffer()
    var outputPromises: [EventLoopPromise<Void>] = []
    private var flushScheduled = false
    var headerBlocks = HTTP2HeaderBlockReader(
        headerListBytesMax: GRPCServerConnection.headerBlockBytesMax, blockBytesMax: GRPCServerConnection.headerBlockBytesMax)
    var calls: [UInt32: GRPCServerCall] = [:]
    /// The highest stream id the client opened.
    var lastStreamID: UInt32 = 0

    // The peer's settings.
    var peerFrameBytesMax = HTTP2Wire.maxFrameSizeDefault
    var peerInitialWindow = HTTP2Wire.windowDefault
    /// The next header block must start with a table size update (first block, or the peer
    /// changed SETTINGS_HEADER_TABLE_SIZE).
    var tableSizeUpdatePending = true

    // Flow control.
    var connectionSendWindow = HTTP2Wire.windowDefault
    /// What the client may send on the connection; raised to the configured size at start.
    var connectionReceiveWindow: HTTP2ReceiveWindow
    /// Streams with DATA waiting for window, in the order they blocked.
    var blocked: [GRPCServerCall] = []
    private(set) var channelWritable = true

    // Flood limits: counts within the current one-second window.
    private var floodWindowStart = NIODeadline.now()
    private var controlFrames = 0
    private var resetFrames = 0
    private(set) var closing = false

    init(methods: GRPCMethodTable, configuration: GRPCConnectionConfiguration, count: StreamCount, eventLoop: any EventLoop) {
        self.methods = methods
        self.configuration = configuration
        self.count = count
        self.eventLoop = eventLoop
        self.connectionReceiveWindow = HTTP2ReceiveWindow(
            size: configuration.connectionWindowBytes,
            available: max(configuration.connectionWindowBytes, HTTP2Wire.windowDefault))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        channelWritable = context.channel.isWritable
        output = allocator.buffer(capacity: 4096)
        output.writeHTTP2Settings([
            (.maxConcurrentStreams, configuration.concurrentStreamsMax),
            (.initialWindowSize, configuration.streamWindowBytes),
            (.maxHeaderListSize, 16 * 1024),
        ])
        let raise = configuration.connectionWindowBytes - HTTP2Wire.windowDefault
        if raise > 0 { output.writeHTTP2WindowUpdate(streamID: 0, increment: raise) }
        scheduleFlush()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closeAllCalls()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeAllCalls()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closeAllCalls()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        channelWritable = context.channel.isWritable
        for call in calls.values where call.writabilityCallback != nil {
            updateWritability(call)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !closing else { return }
        if input == nil {
            input = bytes
        } else {
            input!.writeBuffer(&bytes)
        }
        do {
            try readFrames()
        } catch {
            connectionError(error)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushNow()
        context.fireChannelReadComplete()
    }

    /// Takes every whole frame off `input` and handles it.
    private func readFrames() throws(HTTP2Wire.ConnectionError) {
        guard var buffer = input else { return }
        input = nil
        defer {
            if buffer.readableBytes > 0, !closing {
                if buffer.readerIndex > 64 * 1024 { buffer.discardReadBytes() }
                input = buffer
            }
        }
        if !prefaceSeen {
            guard buffer.readableBytes >= HTTP2Wire.preface.count else { return }
            guard buffer.readBytes(length: HTTP2Wire.preface.count) == HTTP2Wire.preface else {
                throw HTTP2Wire.ConnectionError(.protocolError, "bad client preface")
            }
            prefaceSeen = true
        }
        while !closing, let (header, payload) = try buffer.readHTTP2Frame(payloadBytesMax: HTTP2Wire.maxFrameSizeDefault) {
            if !settingsSeen {
                guard header.type == HTTP2Wire.FrameType.settings.rawValue, !header.has(HTTP2Wire.Flags.ack) else {
                    throw HTTP2Wire.ConnectionError(.protocolError, "the client preface must end with SETTINGS")
                }
                settingsSeen = true
            }
            try receiveFrame(header, payload)
        }
    }

    // MARK: Output

    /// Output was appended: flush now if much waits, else at the end of this loop round.
    func outputAppended() {
        if output.readableBytes >= Self.outputFlushBytes {
            flushNow()
        } else {
            scheduleFlush()
        }
    }

    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.assumeIsolatedUnsafeUnchecked().execute { [self] in
            flushScheduled = false
            flushNow()
        }
    }

    /// Hands what waits in `output` to the socket.
    func flushNow() {
        guard let context, output.readableBytes > 0 else { return }
        var promise: EventLoopPromise<Void>?
        if !outputPromises.isEmpty {
            let waiting = outputPromises
            outputPromises = []
            let written = eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { result in
                for waiter in waiting { waiter.completeWith(result) }
            }
            promise = written
        }
        let bytes = output
        output = allocator.buffer(capacity: Swift.max(4096, Swift.min(bytes.readableBytes, 64 * 1024)))
        context.writeAndFlush(wrapOutboundOut(bytes), promise: promise)
    }

    // MARK: Ending

    /// A connection error: GOAWAY with its code, every call cancelled, the socket closed once
    /// the GOAWAY is written.
    func connectionError(_ error: HTTP2Wire.ConnectionError) {
        guard !closing, let context else { return }
        closing = true
        input = nil
        output.writeHTTP2GoAway(lastStreamID: lastStreamID, code: error.code, message: error.message)
        flushNow()
        closeAllCalls()
        context.close(promise: nil)
    }

    private func closeAllCalls() {
        let open = calls.values.sorted { $0.streamID < $1.streamID }
        calls = [:]
        blocked = []
        for call in open {
            count.live.subtract(1, ordering: .relaxed)
            call.close()
        }
        for promise in outputPromises { promise.fail(GRPCStatus(.unavailable, "the connection closed")) }
        outputPromises = []
    }

    /// Adds a new call to the table.
    func register(_ call: GRPCServerCall) {
        calls[call.streamID] = call
        count.live.add(1, ordering: .relaxed)
    }

    /// The stream is done both ways (or reset): it leaves the table.
    func remove(_ call: GRPCServerCall) {
        guard calls.removeValue(forKey: call.streamID) != nil else { return }
        count.live.subtract(1, ordering: .relaxed)
        if call.isBlocked {
            call.isBlocked = false
            blocked.removeAll { $0 === call }
        }
        call.close()
    }

    /// Resets a stream: RST_STREAM with `code`, and the call is cut short.
    func reset(_ call: GRPCServerCall, _ code: HTTP2Wire.ErrorCode) {
        output.writeHTTP2RstStream(streamID: call.streamID, code: code)
        outputAppended()
        remove(call)
    }

    // MARK: Flood limits

    func countControlFrame() throws(HTTP2Wire.ConnectionError) {
        rollFloodWindow()
        controlFrames += 1
        guard controlFrames <= configuration.controlFramesPerSecondMax else {
            throw HTTP2Wire.ConnectionError(.enhanceYourCalm, "too many control frames")
        }
    }

    func countResetFrame() throws(HTTP2Wire.ConnectionError) {
        rollFloodWindow()
        resetFrames += 1
        guard resetFrames <= configuration.resetFramesPerSecondMax else {
            throw HTTP2Wire.ConnectionError(.enhanceYourCalm, "too many stream resets")
        }
    }

    private func rollFloodWindow() {
        let now = NIODeadline.now()
        if now - floodWindowStart >= .seconds(1) {
            floodWindowStart = now
            controlFrames = 0
            resetFrames = 0
        }
    }
}

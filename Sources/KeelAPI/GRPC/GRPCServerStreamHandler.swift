import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves one HTTP/2 stream as one gRPC call: checks the request headers, finds the method by
/// path, splits DATA into messages, and writes the response headers, messages and trailers.
///
/// Lives on the connection's event loop; `GRPCServerCallWriter` brings other threads' sends
/// here. Ends the stream once: with trailers carrying `grpc-status` (a "trailers-only" HEADERS
/// frame if nothing was sent yet), then a reset if the client is still sending.
final class GRPCServerStreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let methods: GRPCMethodTable
    private var deframer: GRPCMessageDeframer
    private var context: ChannelHandlerContext?
    private var kind = GRPCServerMethod.Kind.unary
    private var receive: ((GRPCInboundEvent<ByteBuffer>) -> Void)?
    private var pendingRequest: ByteBuffer?
    private var callOpened = false
    private var headersSent = false
    private var finished = false
    private var inboundEnded = false
    private var deadlineTask: Scheduled<Void>?
    var writabilityCallback: (@Sendable (Bool) -> Void)?
    private let count: StreamCount

    init(methods: GRPCMethodTable, messageBytesMax: Int, count: StreamCount) {
        self.methods = methods
        self.deframer = GRPCMessageDeframer(messageBytesMax: messageBytesMax)
        self.count = count
        count.live.add(1, ordering: .relaxed)
    }

    deinit {
        count.live.subtract(1, ordering: .relaxed)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // The call's receiver holds its writer, which holds this handler: drop it with what
        // else the stream held, or every finished call would keep itself alive.
        abort()
        receive = nil
        pendingRequest = nil
        deframer.release()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            if !callOpened {
                callOpened = true
                openCall(headers.headers, context: context)
            }
            // Later HEADERS are the client's trailers: they only matter as end of stream.
            if headers.endStream { inboundEnd() }
        case .data(let data):
            guard !finished else { return }
            if case .byteBuffer(let bytes) = data.data {
                deframer.append(bytes)
                deliverMessages()
            }
            if data.endStream { inboundEnd() }
        default:
            break
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // Writability flips inside our own writes and flushes, i.e. inside the handler's
        // `send`. Calling back there would re-enter the handler's send loop (seen: a snapshot
        // sender sent one chunk twice and skipped the next), so the callback runs on a later
        // turn of the loop and reads the writability of that moment.
        if writabilityCallback != nil {
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let channel = context.channel
            context.eventLoop.execute {
                handler.value.writabilityCallback?(channel.isWritable)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        abort()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream-level protocol error (a reset, a bad frame): the call cannot go on.
        abort()
        context.close(promise: nil)
    }

    /// Writes one response message, preceded by the response headers the first time.
    func sendMessage(_ bytes: [UInt8], flush: Bool, promise: EventLoopPromise<Void>?) {
        guard !finished, let context else {
            promise?.fail(GRPCStatus(.cancelled, "the stream is closed"))
            return
        }
        writeResponseHeadersIfNeeded(context: context)
        let framed = GRPCMessageFramer.frame(bytes, allocator: context.channel.allocator)
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(framed)))), promise: promise)
        if flush { context.flush() }
    }

    /// Ends the call with `status` in the trailers; later calls do nothing.
    func finish(_ status: GRPCStatus) {
        guard !finished, let context else { return }
        finished = true
        deadlineTask?.cancel()
        writabilityCallback = nil
        var trailers = HPACKHeaders()
        if !headersSent {
            headersSent = true
            trailers = GRPCHeaders.responseHeaders
        }
        trailers.add(name: GRPCHeaders.status, value: String(status.code.rawValue))
        if !status.message.isEmpty {
            trailers.add(name: GRPCHeaders.message, value: GRPCStatus.percentEncoded(status.message))
        }
        let written = context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))))
        if !inboundEnded {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private func openCall(_ headers: HPACKHeaders, context: ChannelHandlerContext) {
        let path = headers.first(name: ":path") ?? ""
        guard headers.first(name: ":method") == "POST",
            let contentType = headers.first(name: "content-type"), GRPCHeaders.isGRPC(contentType: contentType)
        else {
            return refuseAsHTTP(status: "415", context: context)
        }
        if let encoding = headers.first(name: GRPCHeaders.encoding), encoding != "identity" {
            return finishEarly(GRPCStatus(.unimplemented, "grpc-encoding \(encoding) is not supported"))
        }
        var deadline: NIODeadline?
        if let timeout = headers.first(name: GRPCHeaders.timeout) {
            guard let amount = GRPCTimeout.parse(Substring(timeout)) else {
                return finishEarly(GRPCStatus(.internal, "malformed grpc-timeout: \(timeout)"))
            }
            deadline = .now() + amount
        }
        guard let method = methods.methods[path] else {
            return finishEarly(GRPCStatus(.unimplemented, "unknown method \(path)"))
        }
        if let deadline { scheduleDeadline(deadline, context: context) }
        let call = GRPCCallContext(
            path: path, headers: headers, deadline: deadline, eventLoop: context.eventLoop,
            closeFuture: context.channel.closeFuture)
        let writer = GRPCServerCallWriter(
            channel: context.channel, handler: NIOLoopBound(self, eventLoop: context.eventLoop))
        kind = method.kind
        receive = method.open(call, writer)
    }

    private func deliverMessages() {
        while !finished {
            let message: ByteBuffer?
            do {
                message = try deframer.next()
            } catch {
                return fail(error)
            }
            guard let message else { return }
            switch kind {
            case .streaming:
                receive?(.message(message))
            case .unary:
                guard pendingRequest == nil else {
                    return fail(GRPCStatus(.internal, "more than one request message for a unary call"))
                }
                pendingRequest = message
            }
        }
    }

    private func inboundEnd() {
        guard !inboundEnded else { return }
        inboundEnded = true
        guard !finished else { return }
        if deframer.hasPartialMessage {
            return fail(GRPCStatus(.internal, "the request stream ended inside a message"))
        }
        switch kind {
        case .streaming:
            receive?(.end)
        case .unary:
            guard let request = pendingRequest else {
                return fail(GRPCStatus(.internal, "no request message for a unary call"))
            }
            pendingRequest = nil
            receive?(.message(request))
            receive?(.end)
        }
    }

    /// Fails a call whose handler is running: it hears `.cancelled` after the trailers went out.
    private func fail(_ status: GRPCStatus) {
        finish(status)
        notifyCancelled()
    }

    /// Fails a call before any handler was opened.
    private func finishEarly(_ status: GRPCStatus) {
        finish(status)
    }

    /// The stream went away without the handler finishing it (reset, connection lost).
    private func abort() {
        deadlineTask?.cancel()
        writabilityCallback = nil
        // A call already finished (by its handler, or failed here with `fail`, which notifies)
        // has nothing left to cancel.
        guard !finished else { return }
        finished = true
        notifyCancelled()
    }

    private func notifyCancelled() {
        guard let receive else { return }
        self.receive = nil
        receive(.cancelled)
    }

    private func scheduleDeadline(_ deadline: NIODeadline, context: ChannelHandlerContext) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        deadlineTask = context.eventLoop.scheduleTask(deadline: deadline) {
            handler.value.fail(GRPCStatus(.deadlineExceeded, "context deadline exceeded"))
        }
    }

    private func writeResponseHeadersIfNeeded(context: ChannelHandlerContext) {
        guard !headersSent else { return }
        headersSent = true
        let payload = HTTP2Frame.FramePayload.headers(.init(headers: GRPCHeaders.responseHeaders))
        context.write(wrapOutboundOut(payload), promise: nil)
    }

    /// Answers a request that is not gRPC at all with a bare HTTP status, as the gRPC spec asks.
    private func refuseAsHTTP(status: String, context: ChannelHandlerContext) {
        finished = true
        headersSent = true
        let headers: HPACKHeaders = [":status": status]
        let written = context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))))
        let channel = context.channel
        written.whenComplete { _ in channel.close(promise: nil) }
    }
}

import NIOCore
import NIOHTTP1

/// Gathers each HTTP/1.1 request with its body, hands it to the responder and writes the answer.
///
/// Sits after NIOHTTP1's server pipeline, whose pipelining helper holds later requests until
/// the current response is written, so at most one request is in flight per connection here.
final class HTTP1ServerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: any HTTP1Responder
    private let bodyBytesMax: Int
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false
    /// The streamed response's writability listener (see `HTTP1StreamWriter`).
    var writabilityCallback: (@Sendable (Bool) -> Void)?
    /// Whether the response being streamed asked to close the connection after it.
    var streamKeepAlive = true

    init(responder: any HTTP1Responder, bodyBytesMax: Int) {
        self.responder = responder
        self.bodyBytesMax = bodyBytesMax
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            tooLarge = false
        case .body(var bytes):
            guard !tooLarge else { return }
            if body.readableBytes + bytes.readableBytes > bodyBytesMax {
                tooLarge = true
                body.clear()
            } else {
                body.writeBuffer(&bytes)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                return write(HTTP1Response(status: .payloadTooLarge), keepAlive: false, context: context)
            }
            respond(to: HTTP1Request(head: head, body: body), context: context)
        }
    }

    /// A request NIOHTTP1 could not parse: its error handler has answered 400 (with
    /// "Connection: close"); the connection ends here, as the answer promised.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func respond(to request: HTTP1Request, context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: HTTP1Response.self)
        let keepAlive = request.head.isKeepAlive
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success(let response): handler.write(response, keepAlive: keepAlive, context: context)
            case .failure: handler.write(HTTP1Response(status: .internalServerError), keepAlive: false, context: context)
            }
        }
        responder.respond(to: request, on: context.eventLoop, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // As the gRPC stream handler does: flips happen inside our own writes, so the listener
        // runs on a later turn of the loop and reads the writability of that moment.
        if writabilityCallback != nil {
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let channel = context.channel
            context.eventLoop.execute { handler.value.writabilityCallback?(channel.isWritable) }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        writabilityCallback = nil
        context.fireChannelInactive()
    }

    private func write(_ response: HTTP1Response, keepAlive: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if let streamBody = response.streamBody { return startStream(response, streamBody, keepAlive: keepAlive, context: context) }
        var headers = response.headers
        headers.replaceOrAdd(name: "content-length", value: String(response.body.readableBytes))
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

extension HTTP1ServerHandler {
    /// Writes a streamed response's head (no length: NIOHTTP1 frames the body as chunked) and
    /// hands the body to `streamBody`.
    private func startStream(_ response: HTTP1Response, _ streamBody: @Sendable (HTTP1StreamWriter) -> Void,
                             keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = response.headers
        headers.remove(name: "content-length")
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        streamKeepAlive = keepAlive
        let head = HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)
        context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
        streamBody(HTTP1StreamWriter(handler: NIOLoopBound((self, context), eventLoop: context.eventLoop), channel: context.channel))
    }

    func writeStreamPiece(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
    }

    func finishStream(context: ChannelHandlerContext) {
        writabilityCallback = nil
        guard context.channel.isActive else { return }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !streamKeepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

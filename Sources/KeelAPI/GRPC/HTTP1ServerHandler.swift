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

    private func write(_ response: HTTP1Response, keepAlive: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
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

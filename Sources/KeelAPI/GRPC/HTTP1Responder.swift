import NIOCore
import NIOHTTP1

/// An HTTP/1.1 request with its whole body (the client port's gateway requests are small:
/// bodies above the server's limit are refused with 413 before they are buffered).
public struct HTTP1Request: Sendable {
    public var head: HTTPRequestHead
    public var body: ByteBuffer
}

/// An HTTP/1.1 response; `content-length` is set from the body when it is written.
///
/// With `streamBody` set the response is streamed instead: the head goes out without a
/// length (chunked), `body` is ignored, and `streamBody` is called on the connection's event
/// loop with the writer that sends the rest, piece by piece, until it finishes.
public struct HTTP1Response: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer
    public var streamBody: (@Sendable (HTTP1StreamWriter) -> Void)?

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer(),
                streamBody: (@Sendable (HTTP1StreamWriter) -> Void)? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.streamBody = streamBody
    }
}

/// Serves the HTTP/1.1 requests of the client port (the JSON gateway, /health, /metrics).
///
/// `respond` is called on the connection's event loop and must not block; it completes the
/// promise later, from any thread. Requests on one connection are answered in order.
public protocol HTTP1Responder: Sendable {
    func respond(to request: HTTP1Request, on eventLoop: any EventLoop, promise: EventLoopPromise<HTTP1Response>)
}

/// The responder until the gateway exists: 404 for every request.
public struct HTTP1NotFoundResponder: HTTP1Responder {
    public init() {}

    public func respond(
        to request: HTTP1Request, on eventLoop: any EventLoop, promise: EventLoopPromise<HTTP1Response>
    ) {
        var body = ByteBuffer()
        body.writeString("404 page not found\n")
        promise.succeed(
            HTTP1Response(status: .notFound, headers: ["content-type": "text/plain; charset=utf-8"], body: body))
    }
}

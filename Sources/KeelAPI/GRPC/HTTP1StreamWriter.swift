import NIOCore
import NIOHTTP1

/// The body of a streamed HTTP/1.1 response (chunked), usable from any thread: every call hops
/// to the connection's event loop. Pieces are flushed as they are written. Nothing bounds what
/// is queued but the caller, who checks `isWritable` and waits for `onWritabilityChanged(true)`.
/// After `finish`, or once the connection is gone, writes are dropped.
public final class HTTP1StreamWriter: Sendable {
    private let handler: NIOLoopBound<(HTTP1ServerHandler, ChannelHandlerContext)>
    private let channel: any Channel

    init(handler: NIOLoopBound<(HTTP1ServerHandler, ChannelHandlerContext)>, channel: any Channel) {
        self.handler = handler
        self.channel = channel
    }

    /// The connection's event loop.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Succeeds when the connection closes (the client went away, or after `finish` when the
    /// request did not keep the connection alive).
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// Whether the connection takes more without queueing beyond its high watermark.
    public var isWritable: Bool { channel.isWritable }

    /// Writes and flushes one piece of the body.
    public func write(_ bytes: ByteBuffer) {
        onLoop { handler, context in handler.writeStreamPiece(bytes, context: context) }
    }

    /// Ends the body (the last chunk). Later writes are dropped by the pipeline.
    public func finish() {
        onLoop { handler, context in handler.finishStream(context: context) }
    }

    /// Calls `callback` on the event loop after writability flips (never from inside `write`),
    /// until the stream finishes or the connection closes. A later registration replaces an
    /// earlier one.
    public func onWritabilityChanged(_ callback: @escaping @Sendable (Bool) -> Void) {
        onLoop { handler, _ in handler.writabilityCallback = callback }
    }

    private func onLoop(_ body: @escaping @Sendable (HTTP1ServerHandler, ChannelHandlerContext) -> Void) {
        if channel.eventLoop.inEventLoop {
            let (handler, context) = handler.value
            body(handler, context)
        } else {
            let handler = self.handler
            channel.eventLoop.execute {
                let (handler, context) = handler.value
                body(handler, context)
            }
        }
    }
}

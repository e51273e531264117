import NIOCore

/// Joins the flushes a connection is asked for while its event loop runs one round of tasks
/// into one write to the socket.
///
/// A group commit completes many requests at once, and each is answered by a task of its own
/// on the connection's event loop, which writes the response and flushes. Without this
/// handler every answer is its own `writev`; with it, the first flush schedules the real one
/// at the back of the loop's task queue, later ones join it, and the answers already queued
/// leave together. A lone answer waits only for the tasks queued before its flush.
///
/// Placed between the socket and `NIOHTTP2Handler`, so it sees the connection's flushes, not
/// the streams'.
final class FlushCoalescer: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var flushScheduled = false

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            context.flush()
        }
    }
}

import NIOCore
import SwiftProtobuf

/// The sending side of a streaming call, usable from any thread.
///
/// Sends are queued on the stream's event loop in call order. Nothing bounds that queue but
/// the sender: a producer (the watch hub) checks `isWritable` and waits for
/// `onWritabilityChanged(true)` before sending more, so a slow client cannot make the server
/// buffer without limit. After `finish`, or once the stream is gone, sends are dropped and
/// their promises fail with CANCELLED.
public final class GRPCServerStream<Response: Message>: Sendable {
    let writer: GRPCServerCallWriter

    init(writer: GRPCServerCallWriter) {
        self.writer = writer
    }

    /// Queues one response message; the promise completes when it was written to the socket.
    public func send(_ response: Response, promise: EventLoopPromise<Void>? = nil) {
        do {
            writer.send(try response.serializedBytes(), promise: promise)
        } catch {
            promise?.fail(GRPCStatus(.internal, "cannot serialize response: \(error)"))
            writer.finish(GRPCStatus(.internal, "cannot serialize response: \(error)"))
        }
    }

    /// Ends the call with a status (trailers). Later calls are ignored.
    public func finish(_ status: GRPCStatus = .ok) {
        writer.finish(status)
    }

    /// Whether the stream can take more: less than the stream's outbound high watermark waits
    /// for HTTP/2 flow-control window, and the connection's socket keeps up. Safe to read from
    /// any thread.
    public var isWritable: Bool { writer.isWritable }

    /// Calls `callback` on the event loop after the stream's writability flips, with the
    /// writability at that moment, until the stream closes. It is never called from inside
    /// `send` (so a sender loop is not re-entered) and may repeat a value. A later
    /// registration replaces an earlier one.
    public func onWritabilityChanged(_ callback: @escaping @Sendable (Bool) -> Void) {
        writer.onWritabilityChanged(callback)
    }
}

import NIOCore
import SwiftProtobuf

/// The client's side of a streaming call: sends requests in order, half-closes, or cancels.
/// Safe to use from any thread; off the connection's event loop each operation hops there.
public final class GRPCClientStreamingCall<Request: Message>: Sendable {
    private let connection: NIOLoopBound<GRPCClientConnection>
    private let call: GRPCClientCall
    /// The call's final status from its trailers (OK included); fails only if the stream could
    /// not be opened or a response did not parse.
    public let status: EventLoopFuture<GRPCStatus>

    init(connection: NIOLoopBound<GRPCClientConnection>, call: GRPCClientCall, status: EventLoopFuture<GRPCStatus>) {
        self.connection = connection
        self.call = call
        self.status = status
    }

    /// Sends one request message; the future completes when it was written to the socket, and
    /// fails if the call ended first.
    public func send(_ request: Request) -> EventLoopFuture<Void> {
        let loop = connection.eventLoop
        let body: [UInt8]
        do { body = try request.serializedBytes() } catch {
            return loop.makeFailedFuture(GRPCStatus(.internal, "cannot serialize request: \(error)"))
        }
        let promise = loop.makePromise(of: Void.self)
        let (connection, call) = (connection, call)
        if loop.inEventLoop {
            connection.value.send(body, on: call, endStream: false, promise: promise)
        } else {
            loop.execute { connection.value.send(body, on: call, endStream: false, promise: promise) }
        }
        return promise.futureResult
    }

    /// Half-closes: tells the server no more requests come. Responses keep arriving.
    public func finish() {
        let (connection, call) = (connection, call)
        if connection.eventLoop.inEventLoop {
            connection.value.finish(call)
        } else {
            connection.eventLoop.execute { connection.value.finish(call) }
        }
    }

    /// Resets the stream (RST_STREAM); the status then reports the call as ended early.
    public func cancel() {
        let (connection, call) = (connection, call)
        if connection.eventLoop.inEventLoop {
            connection.value.cancel(call)
        } else {
            connection.eventLoop.execute { connection.value.cancel(call) }
        }
    }
}

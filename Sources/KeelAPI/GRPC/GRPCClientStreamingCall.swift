import NIOCore
import NIOHTTP2
import SwiftProtobuf

/// The client's side of a streaming call: sends requests in order, half-closes, or cancels.
/// Safe to use from any thread.
public final class GRPCClientStreamingCall<Request: Message>: Sendable {
    private let stream: EventLoopFuture<any Channel>
    /// The call's final status from its trailers (OK included); fails only if the stream could
    /// not be opened or a response did not parse.
    public let status: EventLoopFuture<GRPCStatus>

    init(stream: EventLoopFuture<any Channel>, status: EventLoopFuture<GRPCStatus>) {
        self.stream = stream
        self.status = status
    }

    /// Sends one request message; the future completes when it was written to the socket.
    public func send(_ request: Request) -> EventLoopFuture<Void> {
        let body: [UInt8]
        do { body = try request.serializedBytes() } catch {
            return stream.eventLoop.makeFailedFuture(GRPCStatus(.internal, "cannot serialize request: \(error)"))
        }
        return stream.flatMap { channel in
            let framed = GRPCMessageFramer.frame(body, allocator: channel.allocator)
            return channel.writeAndFlush(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(framed))))
        }
    }

    /// Half-closes: tells the server no more requests come. Responses keep arriving.
    public func finish() {
        stream.whenSuccess { channel in
            let end = HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(channel.allocator.buffer(capacity: 0)), endStream: true))
            channel.writeAndFlush(end, promise: nil)
        }
    }

    /// Resets the stream (RST_STREAM); the status then reports the call as ended early.
    public func cancel() {
        stream.whenSuccess { $0.close(promise: nil) }
    }
}

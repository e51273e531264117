import NIOCore
import SwiftProtobuf

/// A handle on one server stream's handler that any thread may use: every operation hops to
/// the stream's event loop (or runs inline when already there).
struct GRPCServerCallWriter: Sendable {
    let channel: any Channel
    let handler: NIOLoopBound<GRPCServerStreamHandler>

    func send(_ bytes: [UInt8], promise: EventLoopPromise<Void>?) {
        onLoop { $0.sendMessage(bytes, flush: true, promise: promise) }
    }

    /// A unary call's response and its OK trailers, written together with one flush.
    func sendLast<Response: Message>(_ response: Response) {
        let bytes: [UInt8]
        do {
            bytes = try response.serializedBytes()
        } catch {
            return finish(GRPCStatus(.internal, "cannot serialize response: \(error)"))
        }
        onLoop { handler in
            handler.sendMessage(bytes, flush: false, promise: nil)
            handler.finish(.ok)
        }
    }

    func finish(_ status: GRPCStatus) {
        onLoop { $0.finish(status) }
    }

    func onWritabilityChanged(_ callback: @escaping @Sendable (Bool) -> Void) {
        onLoop { $0.writabilityCallback = callback }
    }

    private func onLoop(_ body: @escaping @Sendable (GRPCServerStreamHandler) -> Void) {
        if channel.eventLoop.inEventLoop {
            body(handler.value)
        } else {
            let handler = self.handler
            channel.eventLoop.execute { body(handler.value) }
        }
    }
}

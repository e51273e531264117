import NIOCore
import SwiftProtobuf

/// A handle on one server call that any thread may use: every operation hops to the call's
/// event loop (or runs inline when already there).
struct GRPCServerCallWriter: Sendable {
    let call: GRPCServerCall

    func send(_ bytes: [UInt8], promise: EventLoopPromise<Void>?) {
        onLoop { $0.sendMessage(bytes, promise: promise) }
    }

    /// A unary call's response and its OK trailers, written together.
    func sendLast<Response: Message>(_ response: Response) {
        let bytes: [UInt8]
        do {
            bytes = try response.serializedBytes()
        } catch {
            return finish(GRPCStatus(.internal, "cannot serialize response: \(error)"))
        }
        onLoop { call in
            call.sendMessage(bytes, promise: nil)
            call.finish(.ok)
        }
    }

    func finish(_ status: GRPCStatus) {
        onLoop { $0.finish(status) }
    }

    /// See `GRPCServerStream.isWritable`; safe from any thread.
    var isWritable: Bool { call.writableFlag.load(ordering: .relaxed) }

    func onWritabilityChanged(_ callback: @escaping @Sendable (Bool) -> Void) {
        onLoop { $0.writabilityCallback = callback }
    }

    private func onLoop(_ body: @escaping @Sendable (GRPCServerCall) -> Void) {
        if call.eventLoop.inEventLoop {
            body(call)
        } else {
            let call = self.call
            call.eventLoop.execute { body(call) }
        }
    }
}

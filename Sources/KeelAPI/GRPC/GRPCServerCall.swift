import NIOCore
import NIOHPACK
import Synchronization

/// One gRPC call on one HTTP/2 stream of a `GRPCServerConnection`: checks the request headers,
/// finds the method by path, splits DATA into messages, and writes the response headers,
/// messages and trailers through the connection.
///
/// Everything here belongs to the connection's event loop, except `writableFlag`, which
/// `GRPCServerStream.isWritable` reads from any thread. `GRPCServerCallWriter` brings other
/// threads' sends to the loop. The call ends once: with trailers carrying `grpc-status` (a
/// "trailers-only" HEADERS frame if nothing was sent yet), or cut short by a reset or the loss
/// of the connection, after which its handler hears `.cancelled`.
final class GRPCServerCall: @unchecked Sendable {
    let streamID: UInt32
    let connection: GRPCServerConnection
    let eventLoop: any EventLoop
    private var deframer: GRPCMessageDeframer
    private var kind = GRPCServerMethod.Kind.unary
    private var receive: ((GRPCInboundEvent<ByteBuffer>) -> Void)?
    private var pendingRequest: ByteBuffer?
    /// The response headers went out (or are queued).
    var headersSent = false
    /// The trailers went out or are queued: nothing more may be sent.
    private(set) var finished = false
    /// The client sent END_STREAM.
    private(set) var inboundEnded = false
    /// The stream left the connection's table.
    private(set) var closed = false
    private var deadlineTask: Scheduled<Void>?
    private var closePromise: EventLoopPromise<Void>?
    var writabilityCallback: (@Sendable (Bool) -> Void)?
    /// Whether a sender may go on; see `GRPCServerStream.isWritable`.
    let writableFlag = Atomic<Bool>(true)

    // Flow control, kept by the connection.
    /// Bytes of DATA the client still lets us send on this stream (may go negative when it
    /// shrinks its initial window).
    var sendWindow: Int
    /// What the client may still send on this stream before we grant more.
    var receiveWindow: HTTP2ReceiveWindow
    /// Framed messages waiting for window, oldest first, with the promise of the send that
    /// queued each.
    var queued: [(bytes: ByteBuffer, promise: EventLoopPromise<Void>?)] = []
    var queuedBytes = 0
    /// The trailers' header block, when they wait behind queued DATA.
    var queuedTrailers: ByteBuffer?
    /// In the connection's list of streams waiting for window.
    var isBlocked = false

    init(streamID: UInt32, connection: GRPCServerConnection, sendWindow: Int, receiveWindow: HTTP2ReceiveWindow) {
        self.streamID = streamID
        self.connection = connection
        self.eventLoop = connection.eventLoop
        self.deframer = GRPCMessageDeframer(messageBytesMax: connection.configuration.messageBytesMax)
        self.sendWindow = sendWindow
        self.receiveWindow = receiveWindow
    }

    /// A future that succeeds once the stream is gone. On the event loop only.
    func closeFuture() -> EventLoopFuture<Void> {
        if closed { return eventLoop.makeSucceededVoidFuture() }
        if let closePromise { return closePromise.futureResult }
        let promise = eventLoop.makePromise(of: Void.self)
        closePromise = promise
        return promise.futureResult
    }

    // MARK: Inbound

    /// The request headers of a new stream; `endStream` when they also end the request.
    func open(_ headers: HPACKHeaders, endStream: Bool) {
        let path = headers.first(name: ":path") ?? ""
        guard headers.first(name: ":method") == "POST",
            let contentType = headers.first(name: "content-type"), GRPCHeaders.isGRPC(contentType: contentType)
        else {
            inboundEnded = endStream
            return refuseAsHTTP(status: "415")
        }
        var deadline: NIODeadline?
        if let timeout = headers.first(name: GRPCHeaders.timeout) {
            guard let amount = GRPCTimeout.parse(Substring(timeout)) else {
                inboundEnded = endStream
                return finish(GRPCStatus(.internal, "malformed grpc-timeout: \(timeout)"))
            }
            deadline = .now() + amount
        }
        if let encoding = headers.first(name: GRPCHeaders.encoding), encoding != "identity" {
            inboundEnded = endStream
            return finish(GRPCStatus(.unimplemented, "grpc-encoding \(encoding) is not supported"))
        }
        guard let method = connection.methods.methods[path] else {
            inboundEnded = endStream
            return finish(GRPCStatus(.unimplemented, "unknown method \(path)"))
        }
        if let deadline { scheduleDeadline(deadline) }
        let context = GRPCCallContext(path: path, headers: headers, deadline: deadline, call: self)
        kind = method.kind
        receive = method.open(context, GRPCServerCallWriter(call: self))
        if endStream { receiveEnd() }
    }

    /// A DATA payload (padding removed).
    func receiveData(_ bytes: ByteBuffer, endStream: Bool) {
        if !finished, bytes.readableBytes > 0 {
            deframer.append(bytes)
            deliverMessages()
        }
        if endStream { receiveEnd() }
    }

    /// The client half-closed (END_STREAM on DATA or on its trailers).
    func receiveEnd() {
        guard !inboundEnded else { return }
        inboundEnded = true
        // A call that answered first has its trailers queued behind DATA: the stream closes
        // when they are written.
        guard !finished else { return }
        if deframer.hasPartialMessage {
            return fail(GRPCStatus(.internal, "the request stream ended inside a message"))
        }
        switch kind {
        case .streaming:
            receive?(.end)
        case .unary:
            guard let request = pendingRequest else {
                return fail(GRPCStatus(.internal, "no request message for a unary call"))
            }
            pendingRequest = nil
            receive?(.message(request))
            receive?(.end)
        }
    }

    private func deliverMessages() {
        while !finished {
            let message: ByteBuffer?
            do {
                message = try deframer.next()
            } catch {
                return fail(error)
            }
            guard let message else { return }
            switch kind {
            case .streaming:
                receive?(.message(message))
            case .unary:
                guard pendingRequest == nil else {
                    return fail(GRPCStatus(.internal, "more than one request message for a unary call"))
                }
                pendingRequest = message
            }
        }
    }

    // MARK: Outbound

    /// Writes one response message, preceded by the response headers the first time.
    func sendMessage(_ bytes: [UInt8], promise: EventLoopPromise<Void>?) {
        guard !finished, !closed else {
            promise?.fail(GRPCStatus(.cancelled, "the stream is closed"))
            return
        }
        if !headersSent {
            headersSent = true
            connection.writeResponseHeaders(self)
        }
        connection.writeMessage(bytes, on: self, promise: promise)
    }

    /// Ends the call with `status` in the trailers; later calls do nothing.
    func finish(_ status: GRPCStatus) {
        guard !finished, !closed else { return }
        finished = true
        deadlineTask?.cancel()
        deadlineTask = nil
        writabilityCallback = nil
        let trailersOnly = !headersSent
        headersSent = true
        connection.writeTrailers(GRPCServerConnection.trailers(status, trailersOnly: trailersOnly), on: self)
    }

    /// Fails a call whose handler is running: it hears `.cancelled` after the trailers went out.
    private func fail(_ status: GRPCStatus) {
        finish(status)
        notifyCancelled()
    }

    /// The stream is gone (reset by either side, the connection lost, or closed after its
    /// trailers): lets go of everything, and tells a handler that did not finish.
    func close() {
        guard !closed else { return }
        closed = true
        deadlineTask?.cancel()
        deadlineTask = nil
        writabilityCallback = nil
        for entry in queued { entry.promise?.fail(GRPCStatus(.cancelled, "the stream is closed")) }
        queued = []
        queuedBytes = 0
        queuedTrailers = nil
        if !finished {
            finished = true
            notifyCancelled()
        }
        // The receiver holds its writer, which holds this call: drop it, or every finished
        // call would keep itself alive.
        receive = nil
        pendingRequest = nil
        deframer.release()
        closePromise?.succeed()
        closePromise = nil
    }

    private func notifyCancelled() {
        guard let receive else { return }
        self.receive = nil
        receive(.cancelled)
    }

    private func scheduleDeadline(_ deadline: NIODeadline) {
        deadlineTask = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) { [self] in
            fail(GRPCStatus(.deadlineExceeded, "context deadline exceeded"))
        }
    }

    /// Answers a request that is not gRPC at all with a bare HTTP status, as the gRPC spec asks.
    private func refuseAsHTTP(status: String) {
        finished = true
        headersSent = true
        var block = ByteBuffer()
        HTTP2HeaderBlock.writeLiteral(nameIndex: HTTP2HeaderBlock.Static.status200, value: status.utf8, into: &block)
        connection.writeTrailers(block, on: self)
    }
}

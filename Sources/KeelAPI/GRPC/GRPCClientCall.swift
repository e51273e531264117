import NIOCore
import NIOHPACK

/// One client call on a `GRPCClientConnection`: its request as it waits for a stream and for
/// flow-control window, its stream's windows, and the reading of its response (headers,
/// messages, the trailers' status).
///
/// Unchecked Sendable: a call is made on the caller's thread, handed to the connection's event
/// loop once (a task hop, which orders the two), and from then on touched only there; the
/// connection asserts that on every entry.
final class GRPCClientCall: @unchecked Sendable {
    /// How a call reports. Every call reports its end exactly once.
    enum Receiver {
        /// A unary call: its one response message, or why there is none.
        case unary(@Sendable (Result<ByteBuffer, GRPCStatus>) -> Void)
        /// A streaming call: each response message as it arrives (a thrown status ends the
        /// call as `.failure`), then the end: `.success` with the status the call ended with
        /// (OK or not), `.failure` when it never ran (no stream) or a response did not parse.
        case streaming(
            onMessage: @Sendable (ByteBuffer) throws(GRPCStatus) -> Void,
            onEnd: @Sendable (Result<GRPCStatus, GRPCStatus>) -> Void)
    }

    /// Request bytes not yet sent as DATA: one framed message (or an empty end of stream).
    struct OutboundChunk {
        var bytes: ByteBuffer
        var endStream: Bool
        /// Completed once the chunk's last byte was written to the socket.
        var promise: EventLoopPromise<Void>?
    }

    let path: String
    let timeout: TimeAmount?
    let receiver: Receiver
    /// A unary call's request, sent with END_STREAM as soon as its stream opens.
    var unaryRequest: [UInt8]?

    /// 0 until the call has a stream (it may wait for MAX_CONCURRENT_STREAMS).
    var streamID: UInt32 = 0
    /// True once the call reported its end; its stream is then closed or reset.
    var ended = false

    // Outbound side.
    var outbound: [OutboundChunk] = []
    /// END_STREAM is queued or sent: no more messages may be sent.
    var finishing = false
    /// END_STREAM went out (the stream is half-closed on our side).
    var sentEndStream = false
    /// The peer's window for our DATA on this stream; may go negative after a SETTINGS change.
    var sendWindow = 0
    /// Waiting in the connection's list for connection-level window.
    var waitsForConnectionWindow = false

    // Inbound side.
    var receivedEndStream = false
    /// What the server may still send on this stream before we grant more (set when the
    /// stream opens).
    var receiveWindow = HTTP2ReceiveWindow(size: 0)
    var deframer: GRPCMessageDeframer
    var sawHeaders = false
    /// A unary call's first response message and how many arrived.
    var unaryMessage: ByteBuffer?
    var unaryMessageCount = 0

    init(path: String, timeout: TimeAmount?, messageBytesMax: Int, receiver: Receiver) {
        self.path = path
        self.timeout = timeout
        self.receiver = receiver
        self.deframer = GRPCMessageDeframer(messageBytesMax: messageBytesMax)
    }

    var isUnary: Bool {
        if case .unary = receiver { true } else { false }
    }

    /// Why the call failed or how it ended: the status is handed to the receiver.
    enum Ending {
        /// The call ran and ended with this status (OK, the server's error, or a transport
        /// failure such as a reset stream).
        case finished(GRPCStatus)
        /// The call never ran (no stream could be opened) or a response did not parse.
        case failed(GRPCStatus)
    }

    /// Hands the end to the receiver. Called once, by the connection, after it has let go of
    /// the call's stream: the receiver may start new calls or close the connection.
    func report(_ ending: Ending) {
        precondition(ended, "a call reports only once it has ended")
        let message = unaryMessage
        unaryMessage = nil
        deframer.release()
        switch (receiver, ending) {
        case (.unary(let done), .finished(let status)) where status.code == .ok:
            if unaryMessageCount == 1, let message {
                done(.success(message))
            } else {
                done(.failure(GRPCStatus(.internal, "\(unaryMessageCount) response messages for a unary call")))
            }
        case (.unary(let done), .finished(let status)), (.unary(let done), .failed(let status)):
            done(.failure(status))
        case (.streaming(_, let onEnd), .finished(let status)):
            onEnd(.success(status))
        case (.streaming(_, let onEnd), .failed(let status)):
            onEnd(.failure(status))
        }
    }

    /// Takes a whole response message. A unary call keeps the first (and counts the rest, which
    /// fail the call when it ends); a streaming call passes it on.
    func receive(message: ByteBuffer) throws(GRPCStatus) {
        switch receiver {
        case .unary:
            unaryMessageCount += 1
            if unaryMessageCount == 1 { unaryMessage = message }
        case .streaming(let onMessage, _):
            try onMessage(message)
        }
    }

    /// Fails the sends still queued: their messages will not be written.
    func dropOutbound(_ status: GRPCStatus) {
        let dropped = outbound
        outbound = []
        for chunk in dropped { chunk.promise?.fail(status) }
    }

    /// The gRPC spec's mapping of HTTP statuses for responses that are not gRPC.
    static func code(httpStatus: String) -> GRPCStatus.Code {
        switch httpStatus {
        case "400": .internal
        case "401": .unauthenticated
        case "403": .permissionDenied
        case "404": .unimplemented
        case "429", "502", "503", "504": .unavailable
        default: .unknown
        }
    }
}

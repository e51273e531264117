import NIOCore
import NIOHPACK
import NIOHTTP2

/// Reads one client call's response from its HTTP/2 stream: response headers, messages and the
/// trailers' status. Reports the end exactly once, also when the stream dies without trailers.
final class GRPCClientStreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// Each response message as it arrives; nil collects them for `onFinish` (unary calls).
    private let onMessage: (@Sendable (ByteBuffer) -> Void)?
    private let onFinish: @Sendable (GRPCStatus, [ByteBuffer]) -> Void
    private var deframer: GRPCMessageDeframer
    private var collected: [ByteBuffer] = []
    private var sawHeaders = false
    private var done = false

    init(
        messageBytesMax: Int, onMessage: (@Sendable (ByteBuffer) -> Void)?,
        onFinish: @escaping @Sendable (GRPCStatus, [ByteBuffer]) -> Void
    ) {
        self.deframer = GRPCMessageDeframer(messageBytesMax: messageBytesMax)
        self.onMessage = onMessage
        self.onFinish = onFinish
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            readHeaders(headers.headers, endStream: headers.endStream, context: context)
        case .data(let data):
            if case .byteBuffer(let bytes) = data.data {
                deframer.append(bytes)
                readMessages(context: context)
            }
            if data.endStream, !done {
                end(GRPCStatus(.internal, "the response ended without trailers"), context: nil)
            }
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(GRPCStatus(.unavailable, "the stream closed before the call ended"), context: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(GRPCStatus(.unavailable, "stream error: \(error)"), context: context)
    }

    private func readHeaders(_ headers: HPACKHeaders, endStream: Bool, context: ChannelHandlerContext) {
        if !sawHeaders {
            sawHeaders = true
            let httpStatus = headers.first(name: ":status") ?? ""
            guard httpStatus == "200" else {
                return end(GRPCStatus(Self.code(httpStatus: httpStatus), "HTTP status \(httpStatus)"), context: endStream ? nil : context)
            }
            // A "trailers-only" response carries the status in its first and only HEADERS.
            if !endStream { return }
        }
        if deframer.hasPartialMessage {
            return end(GRPCStatus(.internal, "the response ended inside a message"), context: context)
        }
        let status = GRPCStatus(
            statusField: headers.first(name: GRPCHeaders.status), messageField: headers.first(name: GRPCHeaders.message))
        // The server ended the stream (END_STREAM on its trailers): nothing to reset. Resetting
        // anyway sends a RST_STREAM per call, and swift-nio-http2 servers close a connection
        // after 200 of those in 30 s (seen: call 202 failed with StreamClosed(Cancel)).
        end(status, context: endStream ? nil : context)
    }

    private func readMessages(context: ChannelHandlerContext) {
        while !done {
            do {
                guard let message = try deframer.next() else { return }
                if let onMessage { onMessage(message) } else { collected.append(message) }
            } catch {
                return end(error, context: context)
            }
        }
    }

    /// Reports the outcome once; given a context (a call cut short here), resets the stream.
    private func end(_ status: GRPCStatus, context: ChannelHandlerContext?) {
        guard !done else { return }
        done = true
        let messages = collected
        collected = []
        onFinish(status, messages)
        context?.close(promise: nil)
    }

    /// The gRPC spec's mapping of HTTP statuses for responses that are not gRPC.
    private static func code(httpStatus: String) -> GRPCStatus.Code {
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

import KeelAPI
import NIOCore
import NIOHTTP1
import SwiftProtobuf

/// A bidirectional-streaming method as grpc-gateway v1.16 serves it over HTTP/1.1 (etcd's
/// /v3/watch, /v3/lease/keepalive): the request body is a sequence of JSON request messages
/// (one per line as clients write them; any whitespace between values does); the response is
/// 200 with a chunked body of `{"result":<response>}` objects, each followed by a newline and
/// flushed as it is made, until the handler finishes or the client goes away.
///
/// As grpc-gateway: a body whose first message does not decode is refused before the call
/// starts (500, the decoder's error as UNKNOWN); a later one that does not decode ends the
/// client's side of the stream, as does the end of the body (the server side goes on).
struct GatewayStreamMethod: Sendable {
    let path: String
    /// Starts a call with a request's whole body: the streamed response, or a refusal.
    let open: @Sendable (_ body: ByteBuffer, _ context: RequestContext) -> HTTP1Response

    /// `refusal`, asked as each call starts, may refuse it (a learner's refusal): the answer is
    /// then grpc-gateway's stream error, as when the gRPC stream fails before its first response.
    init<Request: Message, Response: Message>(
        path: String, requestType: Request.Type, responseType: Response.Type,
        refusal: (@Sendable () -> GRPCStatus?)? = nil,
        handler: @escaping @Sendable (RequestContext, GatewayStreamSink<Response>) -> (GRPCInboundEvent<Request>) -> Void
    ) {
        self.path = path
        open = { body, context in
            if let status = refusal?() { return GatewayError.streamResponse(for: status) }
            let values = Self.jsonValues(body)
            var requests: [Request] = []
            for value in values {
                do {
                    requests.append(try Request(jsonUTF8Bytes: value, options: GatewayJSON.decodingOptions))
                } catch {
                    if requests.isEmpty { return GatewayError.response(for: GRPCStatus(.unknown, "\(error)")) }
                    break
                }
            }
            let received = requests
            return HTTP1Response(status: .ok, headers: ["content-type": "application/json"]) { writer in
                // Called on the connection's loop, where the close callback runs too.
                let receive = NIOLoopBound(handler(context, GatewayStreamSink(writer: writer)), eventLoop: writer.eventLoop)
                for request in received { receive.value(.message(request)) }
                receive.value(.end)
                writer.closeFuture.whenComplete { _ in receive.value(.cancelled) }
            }
        }
    }

    /// The top-level JSON values of `body`, split where each one closes (objects and arrays by
    /// depth, strings with their escapes), as Go's `json.Decoder` reads a stream of them.
    /// Scalars between values are kept as they are (they fail to decode as a message).
    static func jsonValues(_ body: ByteBuffer) -> [[UInt8]] {
        let bytes = Array(body.readableBytesView)
        var values: [[UInt8]] = []
        var start: Int?
        var depth = 0
        var inString = false
        var escaped = false
        for (index, byte) in bytes.enumerated() {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                if depth == 0, let first = start {
                    values.append(Array(bytes[first..<index]))
                    start = nil
                }
                continue
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
            if start == nil { start = index }
            if depth == 0, byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                values.append(Array(bytes[start!...index]))
                start = nil
            }
        }
        if let first = start { values.append(Array(bytes[first...])) }
        return values
    }
}

/// The response side of a gateway stream: each message as `{"result":...}` and a newline.
final class GatewayStreamSink<Response: Message>: Sendable {
    let writer: HTTP1StreamWriter

    init(writer: HTTP1StreamWriter) {
        self.writer = writer
    }

    var isWritable: Bool { writer.isWritable }

    func send(_ response: Response) {
        let json: String
        do { json = try response.jsonString(options: GatewayJSON.encodingOptions) } catch {
            preconditionFailure("a \(Response.self) that cannot be encoded as JSON: \(error)")
        }
        writer.write(ByteBuffer(string: "{\"result\":" + json + "}\n"))
    }

    func onWritabilityChanged(_ callback: @escaping @Sendable (Bool) -> Void) {
        writer.onWritabilityChanged(callback)
    }

    func finish() { writer.finish() }
}

extension GatewayStreamSink: WatchResponseSink where Response == Etcdserverpb_WatchResponse {}

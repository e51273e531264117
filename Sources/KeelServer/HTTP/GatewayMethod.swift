import KeelAPI
import NIOCore
import SwiftProtobuf

/// A unary method as the gateway calls it: JSON body in, JSON text out, types erased.
struct GatewayMethod: Sendable {
    let path: String
    /// Decodes the body, calls the handler and returns its response as JSON to come, or
    /// INVALID_ARGUMENT at once for a body that is not the request's JSON (the handler is then
    /// not called, as grpc-gateway refuses such a body before it makes the gRPC call). The
    /// future fails with the handler's error.
    let call: @Sendable (_ body: ByteBuffer, _ context: RequestContext) -> Result<EventLoopFuture<String>, GRPCStatus>

    init<Request: Message, Response: Message>(
        path: String, requestType: Request.Type, responseType: Response.Type,
        handler: @escaping @Sendable (Request, RequestContext, GRPCReply<Response>) -> Void
    ) {
        self.path = path
        self.call = { body, context in
            let request: Request
            do throws(GRPCStatus) { request = try Self.decode(body) } catch { return .failure(error) }
            let promise = context.eventLoop.makePromise(of: Response.self)
            handler(request, context, GRPCReply { promise.completeWith($0) })
            return .success(
                promise.futureResult.flatMapThrowing { response in
                    do { return try response.jsonString(options: GatewayJSON.encodingOptions) } catch {
                        throw GRPCStatus(.unknown, "cannot encode the response as JSON: \(error)")
                    }
                })
        }
    }

    /// grpc-gateway's generated code decodes the body with the marshaler's decoder and treats
    /// end of input (an empty or blank body) as an empty request; anything else that does not
    /// decode is INVALID_ARGUMENT with the decoder's message (swift-protobuf's words, such as
    /// "truncated" or "malformedString", where Go's decoder would say "unexpected EOF").
    static func decode<Request: Message>(_ body: ByteBuffer) throws(GRPCStatus) -> Request {
        let bytes = Array(body.readableBytesView)
        let blank = bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        if blank { return Request() }
        do {
            return try Request(jsonUTF8Bytes: bytes, options: GatewayJSON.decodingOptions)
        } catch {
            throw GRPCStatus(.invalidArgument, "\(error)")
        }
    }
}

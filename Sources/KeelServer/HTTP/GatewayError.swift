import KeelAPI
import NIOCore
import NIOHTTP1

/// The answers grpc-gateway v1.16 gives when a call fails or a request finds no handler, with
/// etcd 3.5's default marshaler (`application/json`).
enum GatewayError {
    /// grpc-gateway's `HTTPStatusFromCode` (runtime/errors.go). FAILED_PRECONDITION is 400, not
    /// 412, and CANCELLED is 408, as that table has them.
    static func httpStatus(_ code: GRPCStatus.Code) -> HTTPResponseStatus {
        switch code {
        case .ok: .ok
        case .cancelled: .requestTimeout
        case .unknown: .internalServerError
        case .invalidArgument: .badRequest
        case .deadlineExceeded: .gatewayTimeout
        case .notFound: .notFound
        case .alreadyExists: .conflict
        case .permissionDenied: .forbidden
        case .unauthenticated: .unauthorized
        case .resourceExhausted: .tooManyRequests
        case .failedPrecondition: .badRequest
        case .aborted: .conflict
        case .outOfRange: .badRequest
        case .unimplemented: .notImplemented
        case .internal: .internalServerError
        case .unavailable: .serviceUnavailable
        case .dataLoss: .internalServerError
        }
    }

    /// `DefaultHTTPError`: the status mapped from the code and the `internal.Error` message as
    /// JSON (`{"error":m,"code":c,"message":m}`, fields in that order, empty ones left out as
    /// the marshaler omits defaults; Keel sends no status details).
    static func response(for error: any Error) -> HTTP1Response {
        let status = (error as? GRPCStatus) ?? GRPCStatus(.unknown, "\(error)")
        var members: [(String, String)] = []
        if !status.message.isEmpty { members.append(("error", GoJSON.quoted(status.message))) }
        if status.code != .ok { members.append(("code", String(status.code.rawValue))) }
        if !status.message.isEmpty { members.append(("message", GoJSON.quoted(status.message))) }
        return HTTP1Response(
            status: httpStatus(status.code), headers: ["content-type": "application/json"],
            body: ByteBuffer(string: GoJSON.object(members)))
    }

    /// A streaming call that failed before its first response (`handleForwardResponseStreamError`
    /// with no header written): the status mapped from the code, and one chunk
    /// `{"error":{"grpc_code":c,"http_code":h,"message":m,"http_status":s}}` (a StreamError).
    static func streamResponse(for status: GRPCStatus) -> HTTP1Response {
        let http = httpStatus(status.code)
        var members: [(String, String)] = [("grpc_code", String(status.code.rawValue)), ("http_code", String(http.code))]
        if !status.message.isEmpty { members.append(("message", GoJSON.quoted(status.message))) }
        members.append(("http_status", GoJSON.quoted(http.reasonPhrase)))
        return HTTP1Response(status: http, headers: ["content-type": "application/json"],
                             body: ByteBuffer(string: GoJSON.object([("error", GoJSON.object(members))])))
    }

    /// Go's `http.Error`: the text and a newline, as plain text, not to be sniffed. grpc-gateway
    /// answers an unknown /v3/ path with it ("Not Found", 404) and a known one asked with another
    /// method ("Method Not Allowed", 405); etcd's other handlers use it too.
    static func plainText(_ status: HTTPResponseStatus, _ text: String, headers extra: HTTPHeaders = [:]) -> HTTP1Response {
        var headers: HTTPHeaders = ["content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff"]
        headers.add(contentsOf: extra)
        return HTTP1Response(status: status, headers: headers, body: ByteBuffer(string: text + "\n"))
    }
}

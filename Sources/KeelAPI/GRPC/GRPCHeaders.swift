import NIOHPACK

/// Header names and values of gRPC over HTTP/2 (doc/PROTOCOL-HTTP2.md in the gRPC repository).
enum GRPCHeaders {
    static let status = "grpc-status"
    static let message = "grpc-message"
    static let timeout = "grpc-timeout"
    static let encoding = "grpc-encoding"
    static let contentType = "application/grpc"

    /// The headers that open every response: HTTP 200 and gRPC's content type.
    static let responseHeaders: HPACKHeaders = [":status": "200", "content-type": contentType]

    /// "application/grpc", optionally with a "+format" (we accept "+proto") or parameters.
    static func isGRPC(contentType value: String) -> Bool {
        guard value.hasPrefix(contentType) else { return false }
        let rest = value.dropFirst(contentType.count)
        return rest.isEmpty || rest.hasPrefix(";") || rest.hasPrefix("+proto")
    }
}

/// Header names and values of gRPC over HTTP/2 (doc/PROTOCOL-HTTP2.md in the gRPC repository).
enum GRPCHeaders {
    static let status = "grpc-status"
    static let message = "grpc-message"
    static let timeout = "grpc-timeout"
    static let encoding = "grpc-encoding"
    static let contentType = "application/grpc"

    /// "application/grpc", optionally with a "+format" (we accept "+proto") or parameters.
    /// Compared as bytes: String's prefix test goes through Unicode comparison, a measurable
    /// cost when it runs for every call.
    static func isGRPC(contentType value: String) -> Bool {
        let bytes = value.utf8
        guard bytes.starts(with: contentType.utf8) else { return false }
        let rest = bytes.dropFirst(contentType.utf8.count)
        return rest.isEmpty || rest.first == UInt8(ascii: ";") || rest.starts(with: "+proto".utf8)
    }
}

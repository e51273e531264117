import KeelAPI

/// The per-call counters of go-grpc-prometheus, which etcd installs on its gRPC server, with
/// its names, help texts and labels, so etcd dashboards and alerts (`grpc_server_handled_total`
/// by `grpc_code`) read Keel unchanged.
///
/// As go-grpc-prometheus does when a server registers it, every method added through
/// `ServiceRoutes` gets its series created at zero up front (started, received, sent, and for
/// unary methods handled for every code). etcd's handling-time histogram exists only with
/// `--metrics=extensive` and is not declared here.
public final class GRPCServerMetrics: Sendable {
    public let started: CounterVec
    public let handled: CounterVec
    public let messagesReceived: CounterVec
    public let messagesSent: CounterVec

    public init(registry: MetricsRegistry) {
        let labels = ["grpc_type", "grpc_service", "grpc_method"]
        started = registry.counter(
            "grpc_server_started_total", help: "Total number of RPCs started on the server.", labelNames: labels)
        handled = registry.counter(
            "grpc_server_handled_total",
            help: "Total number of RPCs completed on the server, regardless of success or failure.",
            labelNames: labels + ["grpc_code"])
        messagesReceived = registry.counter(
            "grpc_server_msg_received_total", help: "Total number of RPC stream messages received on the server.",
            labelNames: labels)
        messagesSent = registry.counter(
            "grpc_server_msg_sent_total", help: "Total number of gRPC stream messages sent by the server.",
            labelNames: labels)
    }

    /// The resolved series of one method, so recording a call is a few atomic adds.
    public struct Method: Sendable {
        public let started: Counter
        public let received: Counter
        public let sent: Counter
        /// Indexed by `GRPCStatus.Code.rawValue`; empty for a method whose end is not counted.
        let handledByCode: [Counter]

        public func handled(_ code: GRPCStatus.Code) -> Counter {
            precondition(!handledByCode.isEmpty, "this method's end is not counted")
            return handledByCode[code.rawValue]
        }
    }

    /// Creates (at zero) and returns the series of the method at `path` ("/etcdserverpb.KV/Range").
    /// `type` is go-grpc-prometheus's grpc_type: unary, client_stream, server_stream, bidi_stream.
    /// Without `countsHandled` no grpc_server_handled_total series is created (streams: their
    /// final status is not visible to `ServiceRoutes`, so a zero series would only mislead).
    public func method(path: String, type: String, countsHandled: Bool = true) -> Method {
        let (service, name) = Self.split(path)
        let labels = [type, service, name]
        let codes = countsHandled ? GRPCStatus.Code.allCases.sorted { $0.rawValue < $1.rawValue } : []
        let handledByCode = codes.map { code in handled.labels(labels + [Self.goName(code)]) }
        precondition(handledByCode.isEmpty || handledByCode.count == 17, "gRPC codes are 0...16")
        return Method(
            started: started.labels(labels), received: messagesReceived.labels(labels),
            sent: messagesSent.labels(labels), handledByCode: handledByCode)
    }

    /// "/pkg.Service/Method" → ("pkg.Service", "Method"), as go-grpc-prometheus splits a full
    /// method name.
    static func split(_ path: String) -> (service: String, method: String) {
        let trimmed = path.hasPrefix("/") ? path.dropFirst() : Substring(path)
        guard let slash = trimmed.firstIndex(of: "/") else { return ("unknown", "unknown") }
        return (String(trimmed[..<slash]), String(trimmed[trimmed.index(after: slash)...]))
    }

    /// The code's name as grpc-go's `codes.Code.String()` spells it (the grpc_code label).
    public static func goName(_ code: GRPCStatus.Code) -> String {
        switch code {
        case .ok: "OK"
        case .cancelled: "Canceled"
        case .unknown: "Unknown"
        case .invalidArgument: "InvalidArgument"
        case .deadlineExceeded: "DeadlineExceeded"
        case .notFound: "NotFound"
        case .alreadyExists: "AlreadyExists"
        case .permissionDenied: "PermissionDenied"
        case .resourceExhausted: "ResourceExhausted"
        case .failedPrecondition: "FailedPrecondition"
        case .aborted: "Aborted"
        case .outOfRange: "OutOfRange"
        case .unimplemented: "Unimplemented"
        case .internal: "Internal"
        case .unavailable: "Unavailable"
        case .dataLoss: "DataLoss"
        case .unauthenticated: "Unauthenticated"
        }
    }
}

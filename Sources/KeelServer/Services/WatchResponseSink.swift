import KeelAPI

/// Where a watch session writes its responses: a gRPC Watch stream or a gateway /v3/watch
/// HTTP response. Usable from any thread.
protocol WatchResponseSink: Sendable {
    /// Whether the transport takes more without queueing beyond its own bounds (HTTP/2 flow
    /// control window, the channel's high watermark).
    var isWritable: Bool { get }
    /// Queues one response for the client, in call order.
    func send(_ response: Etcdserverpb_WatchResponse)
    /// Calls `callback` on the session's event loop when writability flips, never from
    /// inside `send`; a later registration replaces an earlier one.
    func onWritabilityChanged(_ callback: @escaping @Sendable (Bool) -> Void)
}

extension GRPCServerStream: WatchResponseSink where Response == Etcdserverpb_WatchResponse {
    func send(_ response: Etcdserverpb_WatchResponse) {
        send(response, promise: nil)
    }
}

/// HTTP/2 settings and limits shared by Keel's gRPC server and client.
public struct GRPCConnectionConfiguration: Sendable, Hashable {
    /// Inbound PING, SETTINGS and PRIORITY frames (and empty DATA frames) a client may send per
    /// second before the server closes the connection with GOAWAY(ENHANCE_YOUR_CALM).
    ///
    /// grpc-go (etcdctl, clientv3, etcd itself) sends a BDP-estimation PING for about every
    /// call it receives data on, so a low limit (swift-nio-http2's default is 200 per 30 s)
    /// cuts a busy etcd client off after ~200 calls, and grpc-go silently retries the call on
    /// a new connection (a Txn could apply twice). 10,000 a second is far above any honest
    /// client's rate (one PING per call at ~10k calls/s per connection) and still stops a
    /// flood from turning one connection into unbounded work.
    public var controlFramesPerSecondMax = 10_000
    /// Inbound RST_STREAM frames a client may send per second before the server closes the
    /// connection.
    ///
    /// A grpc-go client resets a stream for every call it cancels or times out, and for every
    /// watch it drops, so a busy client can send hundreds honestly; 1,000 a second still stops
    /// a rapid-reset flood.
    public var resetFramesPerSecondMax = 1_000
    /// Largest gRPC message accepted from the peer; bigger ones fail with RESOURCE_EXHAUSTED.
    /// etcd takes --max-request-bytes (1.5 MiB) plus 512 KiB of gRPC overhead: 2 MiB.
    public var messageBytesMax = 2 * 1024 * 1024
    /// SETTINGS_MAX_CONCURRENT_STREAMS the server advertises (calls in flight per connection).
    public var concurrentStreamsMax = 4096
    /// Flow-control windows we grant: per stream and per connection.
    public var streamWindowBytes = 1024 * 1024
    public var connectionWindowBytes = 8 * 1024 * 1024
    /// A server stream's bytes waiting for flow-control window above which it reports not
    /// writable (streaming producers such as watch wait for writability before sending more).
    public var streamOutboundHighWatermarkBytes = 64 * 1024

    public init() {}
}

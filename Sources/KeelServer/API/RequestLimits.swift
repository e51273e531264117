/// The client request limits of etcd's flags, with etcd's defaults.
public struct RequestLimits: Sendable, Hashable {
    /// `--max-request-bytes`: the largest encoded proposal a write may become (etcd compares
    /// its encoded raft request with it and answers "request is too large").
    public var maxRequestBytes: Int = 1_572_864
    /// `--max-txn-ops`: the most compares, success ops or failure ops one Txn may hold.
    public var maxTxnOps: Int = 128

    public init(maxRequestBytes: Int = 1_572_864, maxTxnOps: Int = 128) {
        precondition(maxRequestBytes > 0 && maxTxnOps > 0, "request limits must be positive")
        self.maxRequestBytes = maxRequestBytes
        self.maxTxnOps = maxTxnOps
    }

    /// The largest gRPC message the server accepts: etcd lets a message exceed
    /// `maxRequestBytes` by 512 KiB of framing overhead before gRPC itself refuses it, so
    /// that the size check proper happens on the encoded proposal.
    public var receiveMessageBytesMax: Int { maxRequestBytes + 512 * 1024 }

    /// True when a write whose encoded proposal has `encodedBytes` bytes may be proposed.
    public func admits(encodedProposalBytes encodedBytes: Int) -> Bool {
        encodedBytes <= maxRequestBytes
    }
}

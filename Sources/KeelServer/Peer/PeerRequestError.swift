import KeelRaft

/// Why a request to another member got no answer, or an error answer. Every request future
/// fails with one of these.
public enum PeerRequestError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The member is not a peer of this transport (unknown, removed, or the transport has not
    /// started).
    case notAPeer(NodeID)
    /// The member is cut off by ``PeerTransport/partition(from:)``.
    case partitioned(NodeID)
    /// No answer within the request's timeout.
    case timedOut(milliseconds: Int64)
    /// The connection could not be made, or closed before the answer came.
    case connectionLost(String)
    /// The listener refused the connection's hello (another cluster, not a member, ...).
    case handshakeRefused(String)
    /// The listener answered with an error: its handler failed, it does not know the method,
    /// or the caller may not call it.
    case failed(PeerResponseStatus, String)
    /// The request does not fit in a frame.
    case tooLarge(PeerFrameError)
    /// Already this many requests wait on the connection (the limit).
    case tooManyInflight(Int)
    /// The transport (or the one-off connection) was stopped.
    case stopped

    public var description: String {
        switch self {
        case .notAPeer(let member): "member \(hex(member.rawValue)) is not a peer"
        case .partitioned(let member): "member \(hex(member.rawValue)) is partitioned away"
        case .timedOut(let milliseconds): "no answer from the peer within \(milliseconds) ms"
        case .connectionLost(let reason): "peer requests connection lost: \(reason)"
        case .handshakeRefused(let reason): "the peer refused the requests connection: \(reason)"
        case .failed(let status, let text): "the peer answered \(status): \(text)"
        case .tooLarge(let error): "\(error)"
        case .tooManyInflight(let count): "\(count) peer requests already wait for answers"
        case .stopped: "the peer transport stopped"
        }
    }
}

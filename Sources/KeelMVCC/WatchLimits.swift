/// The watch engine's bounds.
public struct WatchLimits: Sendable, Hashable {
    /// A stream holds at most this many undrained responses...
    public var streamResponsesMax = 128
    /// ... and at most this many events in them. A response always enters an empty stream,
    /// so one revision larger than this still goes through; beyond these bounds a watcher is
    /// moved aside and catches up from history once the stream is drained.
    public var streamEventsMax = 8192
    /// The server-wide progress notification interval (etcd: 10 minutes).
    public var progressIntervalNanoseconds: Int64 = 600 * 1_000_000_000

    public init() {}
}

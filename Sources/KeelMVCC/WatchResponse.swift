/// One response on a watch stream, as etcd's WatchResponse carries it (the header's revision
/// in `revision`).
public struct WatchResponse: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// The watcher exists (always its first response).
        case created
        /// `events` holds one or more whole revisions of events, in revision order.
        case events
        /// No events: everything up to `revision` has been sent. For the stream-wide answer to
        /// a progress request, `watchID` is `.invalid`.
        case progress
        /// The watcher is gone (a cancel request); it sends nothing more.
        case canceled(reason: String)
        /// The watcher needed revisions at or below the compact revision; it is canceled.
        case compacted(compactRevision: Int64)
    }

    public var watchID: WatchID
    public var kind: Kind
    /// The key space's revision when the response was made.
    public var revision: Int64
    public var events: [Event]
    /// Set on the events of a prev_kv watcher until `take` fills each event's `prevKV`.
    var needsPrevKV = false

    public init(watchID: WatchID, kind: Kind, revision: Int64, events: [Event] = []) {
        self.watchID = watchID
        self.kind = kind
        self.revision = revision
        self.events = events
    }
}

/// One watcher, owned by the hub's state and touched only under its lock.
final class Watcher {
    /// Hub-wide, in creation order: the order the sync pass serves unsynced watchers in.
    let serial: Int64
    let id: WatchID
    let stream: Int64
    let range: WatchKeyRange
    let filters: WatchFilters
    let prevKV: Bool
    let progressNotify: Bool
    /// Unsynced: the next revision to read from history. Synced: a lower bound on the revisions
    /// to deliver (above the current revision only for a watcher that starts in the future);
    /// a synced watcher has been sent everything up to the hub's revision.
    var nextRevision: Int64
    var synced = false
    /// Synced: where it sits in its synced bucket (for O(1) removal).
    var slot = -1
    /// Event and progress responses of this watcher waiting in the stream.
    var pendingResponses = 0
    /// Whether events went out since the last progress interval (then no progress is due).
    var deliveredSinceProgress = false

    init(serial: Int64, id: WatchID, stream: Int64, request: WatchCreateRequest, nextRevision: Int64) {
        self.serial = serial
        self.id = id
        self.stream = stream
        self.range = WatchKeyRange(key: request.key, end: request.end)
        self.filters = request.filters
        self.prevKV = request.prevKV
        self.progressNotify = request.progressNotify
        self.nextRevision = nextRevision
    }

    /// The events of `events` this watcher reports, with prev_kv stripped unless asked for.
    func select(_ events: some Sequence<Event>) -> [Event] {
        var selected: [Event] = []
        for event in events where range.contains(event.kv.key) && event.kv.modRevision >= nextRevision {
            switch event.kind {
            case .put where filters.contains(.noPut), .delete where filters.contains(.noDelete): continue
            default: break
            }
            var copy = event
            if !prevKV { copy.prevKV = nil }
            selected.append(copy)
        }
        return selected
    }
}

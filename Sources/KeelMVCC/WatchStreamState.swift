/// One stream's part of the hub's state: its watchers and its bounded queue of responses.
struct WatchStreamState {
    let onReadable: @Sendable () -> Void
    /// This stream's bounds (the hub's unless the stream was opened with its own).
    let limits: WatchLimits
    var watchers: [WatchID: Watcher] = [:]
    /// The next id to try when the engine assigns one.
    var nextID: Int64 = 0
    var queue: [WatchResponse] = []
    var queuedEvents = 0
    /// A stream-wide progress request waits until every watcher of the stream is synced.
    var progressRequested = false
    /// The consumer has been woken for the current non-empty stretch of the queue.
    var woken = false

    init(limits: WatchLimits, onReadable: @escaping @Sendable () -> Void) {
        self.limits = limits
        self.onReadable = onReadable
    }

    /// The id for a new watcher: the client's choice when free (nil when taken), else the
    /// lowest free id from `nextID` on, as etcd assigns them.
    mutating func assignID(_ chosen: WatchID?) -> WatchID? {
        if let chosen { return watchers[chosen] == nil ? chosen : nil }
        while watchers[WatchID(nextID)] != nil { nextID += 1 }
        defer { nextID += 1 }
        return WatchID(nextID)
    }

    /// Whether a response of `eventCount` events fits now.
    func accepts(eventCount: Int) -> Bool {
        queue.isEmpty || (queue.count < limits.streamResponsesMax && queuedEvents + eventCount <= limits.streamEventsMax)
    }

    /// How many more events fit in one response now (whole revisions are cut by the caller,
    /// who lets one whole revision into an empty queue whatever its size).
    func eventRoom() -> Int {
        if queue.count >= limits.streamResponsesMax { return 0 }
        return max(0, limits.streamEventsMax - queuedEvents)
    }

    /// Appends a response; returns the wake-up to call (outside the lock) when the consumer
    /// has not been woken for this stretch yet.
    mutating func enqueue(_ response: WatchResponse) -> (@Sendable () -> Void)? {
        queue.append(response)
        queuedEvents += response.events.count
        if response.watchID != .invalid, let watcher = watchers[response.watchID] {
            switch response.kind {
            case .events, .progress: watcher.pendingResponses += 1
            default: break
            }
        }
        if woken { return nil }
        woken = true
        return onReadable
    }

    var allSynced: Bool { watchers.values.allSatisfy(\.synced) }
}

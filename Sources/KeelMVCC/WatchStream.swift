/// One gRPC Watch stream's handle: many watchers, one queue of responses. Any thread.
public final class WatchStream: Sendable {
    let hub: WatchHub
    let id: Int64

    init(hub: WatchHub, id: Int64) {
        self.hub = hub
        self.id = id
    }

    /// Creates a watcher; its `.created` response is queued first, before any of its events.
    public func create(_ request: WatchCreateRequest) -> Result<WatchID, WatchRefusal> {
        hub.create(request, on: id)
    }

    /// Cancels a watcher: its undelivered responses are dropped and `.canceled` is queued.
    /// False when the stream has no such watcher.
    @discardableResult
    public func cancel(_ watchID: WatchID) -> Bool {
        hub.cancel(watchID, on: id)
    }

    /// etcd's progress request: one `.progress` response with id `.invalid` at the hub's
    /// revision, queued as soon as every watcher of the stream is synced.
    public func requestProgress() {
        hub.requestProgress(on: id)
    }

    /// Up to `max` responses, oldest first, with prev_kv filled in (read from history here, on
    /// the caller's thread). An empty result means the queue is empty: the next response wakes
    /// the consumer through `onReadable` again.
    public func take(max: Int) -> [WatchResponse] {
        hub.take(max: max, from: id)
    }

    /// Responses waiting in the queue.
    public var pendingResponses: Int { hub.pending(of: id).responses }
    /// Events in the responses waiting in the queue.
    public var pendingEvents: Int { hub.pending(of: id).events }

    /// Cancels every watcher and drops the queue; later calls are refused or do nothing.
    public func close() {
        hub.closeStream(id)
    }
}

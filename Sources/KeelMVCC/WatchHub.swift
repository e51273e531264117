import Synchronization

/// etcd's watchable store: every watcher of every stream, fed by the apply path.
///
/// - Synced watchers have been sent everything up to the hub's revision; `notify` hands each
///   the events of the revision just applied, as one response in its stream's queue.
/// - Unsynced watchers are behind: they started in the past, or their stream was full when
///   `notify` came (they are moved aside rather than blocking or dropping anything). The server
///   calls `syncUnsynced` periodically; it reads history in bounded batches outside the lock,
///   delivers, and moves a watcher back to the synced set once it has reached the hub's
///   revision (revisions applied during the read are read in the next round).
/// - Per watcher: events in revision order, each revision once and whole, no gap; a watcher that
///   needs a revision below the compact revision gets a compacted response and is canceled
///   (etcd's rule; the compact revision's own events are all kept).
///
/// Thread-safety: one `Mutex` over the whole state. `notify` runs on the apply thread and
/// holds it only to match keys and append to queues; `create`, `cancel`, `take` and
/// `requestProgress` come from gRPC threads; `syncUnsynced` and `tick` from a server timer.
/// History reads (`events`, `previous`) and wake-up callbacks happen outside the lock.
public final class WatchHub: Sendable {
    public let limits: WatchLimits
    let history: any EventHistory
    let state: Mutex<State>
    /// Serializes sync rounds (a round reads history between two critical sections).
    let syncGate = Mutex(())

    struct State {
        /// The last revision notified.
        var revision: Int64
        var streams: [Int64: WatchStreamState] = [:]
        var nextStream: Int64 = 1
        var nextSerial: Int64 = 1
        /// Synced single-key watchers by key, and synced range watchers by range (a watcher's
        /// `slot` is its place in its key's bucket or in the range index).
        var syncedByKey: [[UInt8]: [Watcher]] = [:]
        var syncedRanges = WatchRangeIndex<Watcher>()
        var unsynced: [Int64: Watcher] = [:]
        /// The serial the last sync round stopped after (rounds go around fairly).
        var syncCursor: Int64 = 0
        var lastProgressNanoseconds: Int64?
    }

    /// A hub whose history is at `history.currentRevision`; the apply path then notifies every
    /// revision after it.
    public init(history: any EventHistory, limits: WatchLimits = WatchLimits()) {
        self.history = history
        self.limits = limits
        state = Mutex(State(revision: history.currentRevision))
    }

    /// The last revision notified.
    public var currentRevision: Int64 { state.withLock { $0.revision } }
    /// Watchers waiting for `syncUnsynced`.
    public var unsyncedCount: Int { state.withLock { $0.unsynced.count } }

    /// Open streams, their watchers, and the watchers that are behind (unsynced), read at once.
    public var census: (streams: Int, watchers: Int, unsynced: Int) {
        state.withLock { state in
            (state.streams.count, state.streams.values.reduce(0) { $0 + $1.watchers.count }, state.unsynced.count)
        }
    }

    /// Opens a stream (one gRPC Watch call). `onReadable` is called, outside any lock and on
    /// whichever thread made the response, when the stream's queue goes from empty (or fully
    /// taken) to non-empty; the consumer then calls `take` until it returns nothing.
    /// `limits` overrides the hub's stream bounds for this stream (its progress interval is the
    /// hub's).
    public func openStream(limits: WatchLimits? = nil, onReadable: @escaping @Sendable () -> Void) -> WatchStream {
        let streamLimits = limits ?? self.limits
        let id = state.withLock { state in
            let id = state.nextStream
            state.nextStream += 1
            state.streams[id] = WatchStreamState(limits: streamLimits, onReadable: onReadable)
            return id
        }
        return WatchStream(hub: self, id: id)
    }

    /// The apply path, after the write transaction of `revision` (the next one: every revision
    /// is notified, in order) with its `events` in order. Never blocks on a consumer and never
    /// drops an event: a watcher whose stream is full is moved aside to catch up from history.
    public func notify(revision: Int64, events: [Event]) {
        let wakeUps = state.withLock { state -> [@Sendable () -> Void] in
            precondition(revision == state.revision + 1, "notified revision \(revision) after \(state.revision)")
            precondition(events.allSatisfy { $0.kv.modRevision == revision }, "an event of another revision")
            state.revision = revision
            var wakeUps: [@Sendable () -> Void] = []
            for (watcher, selected) in Self.match(events, in: state) {
                let fits = state.streams[watcher.stream]!.accepts(eventCount: selected.count)
                if fits {
                    if let wake = Self.enqueueEvents(selected, for: watcher, revision: revision, &state) { wakeUps.append(wake) }
                } else {
                    Self.moveAside(watcher, from: revision, &state)
                }
            }
            return wakeUps
        }
        for wake in wakeUps { wake() }
    }

    /// The synced watchers that report some of `events`, each with its events, in the order
    /// first matched: for each event, the watchers of its key in bucket order, then the range
    /// watchers holding it by range start, then serial (deterministic: no hash order).
    private static func match(_ events: [Event], in state: State) -> [(Watcher, [Event])] {
        var order: [Watcher] = []
        var seen: Set<Int64> = []
        for event in events {
            for watcher in state.syncedByKey[event.kv.key] ?? [] where seen.insert(watcher.serial).inserted {
                order.append(watcher)
            }
            state.syncedRanges.forEach(containing: event.kv.key) { watcher in
                if seen.insert(watcher.serial).inserted { order.append(watcher) }
            }
        }
        return order.compactMap { watcher in
            let selected = watcher.select(events)
            return selected.isEmpty ? nil : (watcher, selected)
        }
    }

    static func enqueueEvents(_ events: [Event], for watcher: Watcher, revision: Int64, _ state: inout State) -> (@Sendable () -> Void)? {
        var response = WatchResponse(watchID: watcher.id, kind: .events, revision: revision, events: events)
        response.needsPrevKV = watcher.prevKV
        watcher.deliveredSinceProgress = true
        return state.streams[watcher.stream]!.enqueue(response)
    }

    // MARK: Synced and unsynced sets

    static func addSynced(_ watcher: Watcher, _ state: inout State) {
        precondition(!watcher.synced)
        state.unsynced[watcher.serial] = nil
        watcher.synced = true
        if watcher.range.isSingleKey {
            watcher.slot = state.syncedByKey[watcher.range.key, default: []].count
            state.syncedByKey[watcher.range.key, default: []].append(watcher)
        } else {
            watcher.slot = state.syncedRanges.insert(watcher, range: watcher.range, serial: watcher.serial)
        }
    }

    static func removeSynced(_ watcher: Watcher, _ state: inout State) {
        precondition(watcher.synced)
        watcher.synced = false
        if watcher.range.isSingleKey {
            var bucket = state.syncedByKey.removeValue(forKey: watcher.range.key)!
            removeSlot(watcher, from: &bucket)
            if !bucket.isEmpty { state.syncedByKey[watcher.range.key] = bucket }
        } else {
            let removed = state.syncedRanges.remove(slot: watcher.slot)
            precondition(removed === watcher, "synced slot out of date")
            watcher.slot = -1
        }
    }

    private static func removeSlot(_ watcher: Watcher, from list: inout [Watcher]) {
        precondition(list[watcher.slot] === watcher, "synced slot out of date")
        let last = list.removeLast()
        if last !== watcher {
            list[watcher.slot] = last
            last.slot = watcher.slot
        }
        watcher.slot = -1
    }

    /// A synced watcher that could not take `revision` reads it and what follows from history.
    static func moveAside(_ watcher: Watcher, from revision: Int64, _ state: inout State) {
        removeSynced(watcher, &state)
        watcher.nextRevision = revision
        state.unsynced[watcher.serial] = watcher
    }

    /// Forgets a watcher (canceled, compacted, stream closed) wherever it is.
    static func remove(_ watcher: Watcher, _ state: inout State) {
        if watcher.synced { removeSynced(watcher, &state) } else { state.unsynced[watcher.serial] = nil }
        state.streams[watcher.stream]?.watchers[watcher.id] = nil
    }
}

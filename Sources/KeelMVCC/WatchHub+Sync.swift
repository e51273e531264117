/// Catching unsynced watchers up from history, and progress notifications.
extension WatchHub {
    /// One watcher's share of a sync round, fixed under the lock before history is read.
    /// (The watcher is named by serial: watcher objects never leave the lock.)
    private struct SyncJob: Sendable {
        let serial: Int64
        let range: WatchKeyRange
        let nextRevision: Int64
    }

    /// One catch-up round (the server calls it periodically, etcd every 100 ms, and sooner
    /// while watchers remain unsynced): takes up to `watchersMax` unsynced watchers whose
    /// streams have room, reads their events from history in one read of at most about
    /// `eventsMax` events (whole revisions), and delivers. A watcher that reaches the hub's
    /// revision joins the synced set; one that needs compacted revisions gets a compacted
    /// response. Returns how many watchers remain unsynced. Rounds are serialized; `notify` may
    /// run meanwhile.
    @discardableResult
    public func syncUnsynced(eventsMax: Int, watchersMax: Int = 512) -> Int {
        precondition(eventsMax > 0 && watchersMax > 0)
        return syncGate.withLock { _ in
            let compactRevision = history.compactRevision
            var wakeUps: [@Sendable () -> Void] = []
            let (through, jobs) = state.withLock { state in
                (state.revision, Self.chooseJobs(watchersMax: watchersMax, compactRevision: compactRevision, &state, &wakeUps))
            }
            var remaining = 0
            if !jobs.isEmpty {
                let covering = WatchKeyRange.covering(jobs.map(\.range))
                let from = jobs.map(\.nextRevision).min()!
                let read = history.events(from: from, through: through, key: covering.key, end: covering.end, eventsMax: eventsMax)
                remaining = state.withLock { state in
                    Self.deliver(read, jobs: jobs, through: through, eventsMax: eventsMax, &state, &wakeUps)
                    return state.unsynced.count
                }
            } else {
                remaining = state.withLock { $0.unsynced.count }
            }
            for wake in wakeUps { wake() }
            return remaining
        }
    }

    /// Picks the round's watchers, going around the unsynced set from where the last round
    /// stopped. Watchers below the compact revision are ended here; watchers already at the
    /// hub's revision (a future start after `historyReplaced`) join the synced set directly.
    private static func chooseJobs(watchersMax: Int, compactRevision: Int64, _ state: inout State,
                                   _ wakeUps: inout [@Sendable () -> Void]) -> [SyncJob] {
        let serials = state.unsynced.keys.sorted()
        let start = serials.firstIndex { $0 > state.syncCursor } ?? 0
        var jobs: [SyncJob] = []
        for offset in serials.indices where jobs.count < watchersMax {
            let watcher = state.unsynced[serials[(start + offset) % serials.count]]!
            state.syncCursor = watcher.serial
            if watcher.nextRevision < compactRevision {
                compacted(watcher, compactRevision: compactRevision, &state, &wakeUps)
            } else if watcher.nextRevision > state.revision {
                addSynced(watcher, &state)
                if let wake = answerProgressIfSynced(watcher.stream, &state) { wakeUps.append(wake) }
            } else if state.streams[watcher.stream]!.eventRoom() > 0 {
                jobs.append(SyncJob(serial: watcher.serial, range: watcher.range, nextRevision: watcher.nextRevision))
            }
        }
        return jobs
    }

    /// Delivers what one history read found to the round's watchers still waiting for it.
    private static func deliver(_ read: Result<[Event], MVCCRefusal>, jobs: [SyncJob], through: Int64, eventsMax: Int,
                                _ state: inout State, _ wakeUps: inout [@Sendable () -> Void]) {
        // A watcher canceled since the round began is no longer in the unsynced set.
        let waiting = jobs.compactMap { job in
            state.unsynced[job.serial].flatMap { $0.nextRevision == job.nextRevision ? $0 : nil }
        }
        let events: [Event]
        switch read {
        case .success(let found): events = found
        case .failure(.compacted(let compactRevision)):
            // A compaction overtook the read: those it left behind end, the others read again.
            for watcher in waiting where watcher.nextRevision < compactRevision {
                compacted(watcher, compactRevision: compactRevision, &state, &wakeUps)
            }
            return
        case .failure(let refusal): preconditionFailure("history refused a read through \(through): \(refusal)")
        }
        // The read is whole through `through` unless it stopped after reaching `eventsMax`.
        let covered = events.count >= eventsMax ? events.last!.kv.modRevision : through
        precondition(events.allSatisfy { $0.kv.modRevision <= through }, "history returned a revision not yet notified")
        for watcher in waiting where watcher.nextRevision <= covered {
            let selected = watcher.select(events)
            let stream = state.streams[watcher.stream]!
            let (count, next) = fit(selected, room: stream.eventRoom(), wholeRevisionAnyway: stream.queue.isEmpty, covered: covered)
            if count > 0, let wake = enqueueEvents(Array(selected.prefix(count)), for: watcher, revision: through, &state) {
                wakeUps.append(wake)
            }
            precondition(next >= watcher.nextRevision)
            watcher.nextRevision = next
            if next > state.revision {
                addSynced(watcher, &state)
                if let wake = answerProgressIfSynced(watcher.stream, &state) { wakeUps.append(wake) }
            }
        }
    }

    /// How many of `events` (ordered by revision) fit in `room`, cut between revisions, and the
    /// revision to resume from: after `covered` when all fit, else the first one left out. With
    /// `wholeRevisionAnyway` (an empty queue) the first revision goes in whatever its size, so a
    /// revision larger than the stream's bound still gets through.
    static func fit(_ events: [Event], room: Int, wholeRevisionAnyway: Bool, covered: Int64) -> (count: Int, next: Int64) {
        if events.count <= room { return (events.count, covered + 1) }
        var count = 0
        var index = 0
        while index < events.count {
            let revision = events[index].kv.modRevision
            var end = index
            while end < events.count && events[end].kv.modRevision == revision { end += 1 }
            if end > room && !(count == 0 && wholeRevisionAnyway) { break }
            count = end
            index = end
        }
        return (count, events[count].kv.modRevision)
    }

    /// The server's progress timer, at any rate: every `progressIntervalNanoseconds`, each synced
    /// progress_notify watcher that was sent no events during the interval and has nothing queued
    /// gets a `.progress` response at the hub's revision.
    public func tick(nowNanoseconds now: Int64) {
        var wakeUps: [@Sendable () -> Void] = []
        state.withLock { state in
            guard let last = state.lastProgressNanoseconds else { state.lastProgressNanoseconds = now; return }
            guard now - last >= limits.progressIntervalNanoseconds else { return }
            state.lastProgressNanoseconds = now
            for streamID in state.streams.keys.sorted() {
                for id in state.streams[streamID]!.watchers.keys.sorted() {
                    let watcher = state.streams[streamID]!.watchers[id]!
                    defer { watcher.deliveredSinceProgress = false }
                    guard watcher.progressNotify, watcher.synced, watcher.pendingResponses == 0, !watcher.deliveredSinceProgress else { continue }
                    let response = WatchResponse(watchID: id, kind: .progress, revision: state.revision)
                    if let wake = state.streams[streamID]!.enqueue(response) { wakeUps.append(wake) }
                }
            }
        }
        for wake in wakeUps { wake() }
    }

    /// After the key space was replaced wholesale (a raft snapshot installed): every synced
    /// watcher reads the revisions it has not seen from the new history, and the hub continues
    /// from `history.currentRevision`.
    public func historyReplaced() {
        let revision = history.currentRevision
        state.withLock { state in
            precondition(revision >= state.revision, "history went back from \(state.revision) to \(revision)")
            let synced = (state.syncedByKey.values.joined() + state.syncedRanges.elements).sorted { $0.serial < $1.serial }
            for watcher in synced {
                Self.removeSynced(watcher, &state)
                watcher.nextRevision = max(watcher.nextRevision, state.revision + 1)
                state.unsynced[watcher.serial] = watcher
            }
            state.revision = revision
        }
    }
}

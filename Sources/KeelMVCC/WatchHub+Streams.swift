/// The gRPC side: watchers come and go, queues are drained.
extension WatchHub {
    func create(_ request: WatchCreateRequest, on streamID: Int64) -> Result<WatchID, WatchRefusal> {
        if let end = request.end, end != [0], !request.key.lexicographicallyPrecedes(end) { return .failure(.emptyRange) }
        let compactRevision = history.compactRevision
        var wakeUps: [@Sendable () -> Void] = []
        let result = state.withLock { state -> Result<WatchID, WatchRefusal> in
            guard state.streams[streamID] != nil else { return .failure(.streamClosed) }
            guard let id = state.streams[streamID]!.assignID(request.id) else { return .failure(.duplicateID(request.id!)) }
            // etcd: 0 means "from the next revision"; a start beyond the current revision waits
            // for it as a synced watcher; anything else reads history first.
            let start = request.startRevision == 0 ? state.revision + 1 : max(1, request.startRevision)
            let watcher = Watcher(serial: state.nextSerial, id: id, stream: streamID, request: request, nextRevision: start)
            state.nextSerial += 1
            state.streams[streamID]!.watchers[id] = watcher
            let created = WatchResponse(watchID: id, kind: .created, revision: state.revision)
            if let wake = state.streams[streamID]!.enqueue(created) { wakeUps.append(wake) }
            if start < compactRevision {
                Self.compacted(watcher, compactRevision: compactRevision, &state, &wakeUps)
            } else if start > state.revision {
                Self.addSynced(watcher, &state)
            } else {
                state.unsynced[watcher.serial] = watcher
            }
            return .success(id)
        }
        for wake in wakeUps { wake() }
        return result
    }

    /// Queues the compacted response (which ends the watcher, as etcd's client reads it) and
    /// forgets the watcher.
    static func compacted(_ watcher: Watcher, compactRevision: Int64, _ state: inout State,
                          _ wakeUps: inout [@Sendable () -> Void]) {
        Self.remove(watcher, &state)
        let response = WatchResponse(watchID: watcher.id, kind: .compacted(compactRevision: compactRevision), revision: state.revision)
        if let wake = state.streams[watcher.stream]?.enqueue(response) { wakeUps.append(wake) }
        if let wake = answerProgressIfSynced(watcher.stream, &state) { wakeUps.append(wake) }
    }

    func cancel(_ watchID: WatchID, on streamID: Int64) -> Bool {
        var wake: (@Sendable () -> Void)?
        let found = state.withLock { state -> Bool in
            guard let watcher = state.streams[streamID]?.watchers[watchID] else { return false }
            Self.remove(watcher, &state)
            var stream = state.streams.removeValue(forKey: streamID)!
            // Its undelivered events and progress go; its created response stays ahead of the
            // canceled one.
            stream.queue.removeAll { response in
                guard response.watchID == watchID, response.kind == .events || response.kind == .progress else { return false }
                stream.queuedEvents -= response.events.count
                return true
            }
            wake = stream.enqueue(WatchResponse(watchID: watchID, kind: .canceled(reason: ""), revision: state.revision))
            state.streams[streamID] = stream
            if let progress = Self.answerProgressIfSynced(streamID, &state) { wake = wake ?? progress }
            return true
        }
        wake?()
        return found
    }

    func requestProgress(on streamID: Int64) {
        let wake = state.withLock { state -> (@Sendable () -> Void)? in
            guard state.streams[streamID] != nil else { return nil }
            state.streams[streamID]!.progressRequested = true
            return Self.answerProgressIfSynced(streamID, &state)
        }
        wake?()
    }

    /// Answers a waiting stream-wide progress request once every watcher of the stream is
    /// synced: everything up to the hub's revision is then queued ahead of it.
    static func answerProgressIfSynced(_ streamID: Int64, _ state: inout State) -> (@Sendable () -> Void)? {
        guard let stream = state.streams[streamID], stream.progressRequested, stream.allSynced else { return nil }
        state.streams[streamID]!.progressRequested = false
        return state.streams[streamID]!.enqueue(WatchResponse(watchID: .invalid, kind: .progress, revision: state.revision))
    }

    func take(max: Int, from streamID: Int64) -> [WatchResponse] {
        precondition(max > 0)
        var taken = state.withLock { state -> [WatchResponse] in
            guard var stream = state.streams.removeValue(forKey: streamID) else { return [] }
            let count = min(max, stream.queue.count)
            let taken = Array(stream.queue.prefix(count))
            stream.queue.removeFirst(count)
            for response in taken {
                stream.queuedEvents -= response.events.count
                if case .events = response.kind { stream.watchers[response.watchID]?.pendingResponses -= 1 }
                if case .progress = response.kind { stream.watchers[response.watchID]?.pendingResponses -= 1 }
            }
            precondition(stream.queuedEvents >= 0)
            if stream.queue.isEmpty { stream.woken = false }
            state.streams[streamID] = stream
            return taken
        }
        for index in taken.indices where taken[index].needsPrevKV {
            fillPrevKV(&taken[index])
        }
        return taken
    }

    /// etcd reads prev_kv when it sends, at the revision before the event; a key created by the
    /// event (version 1) has none, nor does one whose previous version was compacted meanwhile.
    private func fillPrevKV(_ response: inout WatchResponse) {
        for index in response.events.indices where response.events[index].prevKV == nil {
            let event = response.events[index]
            if event.kind == .put && event.kv.version == 1 { continue }
            response.events[index].prevKV = history.previous(event.kv.key, before: event.kv.modRevision)
        }
        response.needsPrevKV = false
    }

    func pending(of streamID: Int64) -> (responses: Int, events: Int) {
        state.withLock { state in
            guard let stream = state.streams[streamID] else { return (0, 0) }
            return (stream.queue.count, stream.queuedEvents)
        }
    }

    func closeStream(_ streamID: Int64) {
        state.withLock { state in
            guard let stream = state.streams[streamID] else { return }
            for watcher in stream.watchers.values { Self.remove(watcher, &state) }
            state.streams[streamID] = nil
        }
    }
}

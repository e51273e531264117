import Synchronization
import Testing
@testable import KeelMVCC

@Suite struct WatchHubTests {
    static func put(_ history: WatchModelHistory, _ hub: WatchHub, _ key: String) {
        let events = history.write([(Array(key.utf8), [1])])
        hub.notify(revision: events[0].kv.modRevision, events: events)
    }

    @Test func refusalsIdsAndWakeUps() {
        let history = WatchModelHistory()
        let hub = WatchHub(history: history)
        let wakes = Mutex(0)
        let stream = hub.openStream { wakes.withLock { $0 += 1 } }
        #expect(stream.create(WatchCreateRequest(key: Array("b".utf8), end: Array("a".utf8))) == .failure(.emptyRange))
        #expect(stream.create(WatchCreateRequest(key: Array("a".utf8))) == .success(WatchID(0)))
        #expect(stream.create(WatchCreateRequest(key: Array("a".utf8), id: WatchID(1))) == .success(WatchID(1)))
        #expect(stream.create(WatchCreateRequest(key: Array("a".utf8), id: WatchID(1))) == .failure(.duplicateID(WatchID(1))))
        #expect(stream.create(WatchCreateRequest(key: Array("a".utf8))) == .success(WatchID(2)), "skips the client's 1")
        #expect(wakes.withLock { $0 } == 1, "woken once for the non-empty stretch")
        #expect(stream.take(max: 10).map(\.kind) == [.created, .created, .created])
        #expect(stream.take(max: 10).isEmpty)
        Self.put(history, hub, "a")
        #expect(wakes.withLock { $0 } == 2)
        #expect(stream.take(max: 10).map(\.watchID) == [WatchID(0), WatchID(1), WatchID(2)])
        stream.close()
        #expect(stream.create(WatchCreateRequest(key: Array("a".utf8))) == .failure(.streamClosed))
        Self.put(history, hub, "a")
        #expect(stream.take(max: 10).isEmpty)
    }

    @Test func progressNotifyOnlyForQuietSyncedWatchers() {
        let history = WatchModelHistory()
        var limits = WatchLimits()
        limits.progressIntervalNanoseconds = 100
        let hub = WatchHub(history: history, limits: limits)
        let stream = hub.openStream {}
        _ = stream.create(WatchCreateRequest(key: Array("a".utf8), progressNotify: true))
        _ = stream.create(WatchCreateRequest(key: Array("b".utf8), progressNotify: true))
        _ = stream.create(WatchCreateRequest(key: Array("c".utf8)))
        _ = stream.take(max: 10)
        hub.tick(nowNanoseconds: 0)
        Self.put(history, hub, "a")
        _ = stream.take(max: 10)
        hub.tick(nowNanoseconds: 50)
        #expect(stream.take(max: 10).isEmpty, "not yet an interval")
        hub.tick(nowNanoseconds: 100)
        // "a" had an event during the interval; "c" did not ask.
        #expect(stream.take(max: 10) == [WatchResponse(watchID: WatchID(1), kind: .progress, revision: 2)])
        hub.tick(nowNanoseconds: 200)
        #expect(stream.take(max: 10).map(\.watchID) == [WatchID(0), WatchID(1)])
    }

    @Test func streamProgressWaitsForCatchUp() {
        let history = WatchModelHistory()
        let hub = WatchHub(history: history)
        for _ in 0..<5 { Self.put(history, hub, "k") }
        let stream = hub.openStream {}
        _ = stream.create(WatchCreateRequest(key: Array("k".utf8), startRevision: 3))
        stream.requestProgress()
        #expect(stream.take(max: 10).map(\.kind) == [.created], "unsynced: the answer waits")
        hub.syncUnsynced(eventsMax: 2)
        hub.syncUnsynced(eventsMax: 2)
        let responses = stream.take(max: 10)
        #expect(responses.flatMap(\.events).map(\.kv.modRevision) == [3, 4, 5, 6])
        #expect(responses.last == WatchResponse(watchID: .invalid, kind: .progress, revision: 6))
        #expect(hub.unsyncedCount == 0)
    }

    /// etcd's rule: a start below the compact revision is compacted; a start at it is served.
    @Test func compactedStartIsToldAndCanceled() {
        let history = WatchModelHistory()
        let hub = WatchHub(history: history)
        for _ in 0..<5 { Self.put(history, hub, "k") }
        history.compact(4)
        let stream = hub.openStream {}
        _ = stream.create(WatchCreateRequest(key: Array("k".utf8), startRevision: 3))
        _ = stream.create(WatchCreateRequest(key: Array("k".utf8), startRevision: 4))
        hub.syncUnsynced(eventsMax: 10)
        let responses = stream.take(max: 10)
        #expect(responses.map(\.kind) == [.created, .compacted(compactRevision: 4), .created, .events])
        #expect(responses[3].events.map(\.kv.modRevision) == [4, 5, 6])
    }
}

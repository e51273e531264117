import Glibc
import KeelIO
import KeelTestSupport
import Synchronization
import Testing
@testable import KeelMVCC

/// The watch engine over the real store, on the threads the node will use: an apply thread
/// writing, a sync thread catching watchers up, and a consumer thread draining streams (two
/// of them slow, with tiny bounds, so their watchers are moved aside again and again) and
/// opening watchers from past revisions while the writes go on. At the end every watcher's
/// events equal the store's own history from its start.
@Suite struct KeySpaceWatchThreadsTests {
    struct Tracked {
        var stream: Int
        var request: WatchCreateRequest
        var start: Int64 = 0
        var events: [Event] = []
        var lastRevision: Int64 = 0
        var problems: [String] = []
    }

    final class Board: @unchecked Sendable {
        let writerDone = Atomic<Bool>(false)
        let syncDone = Atomic<Bool>(false)
    }

    static let writes = 1500
    static let keys = (0..<12).map { "k\($0 < 10 ? "0" : "")\($0)" }

    @Test func watchersOnThreadsSeeExactlyTheStoresHistory() throws {
        let seed = KeelSeed.value()
        print("KeySpaceWatchThreadsTests seed \(seed) (KEEL_SEED=\(seed) replays the writes)")
        let fixture = try KeySpaceFixture()
        let space = fixture.space
        var slow = WatchLimits()
        slow.streamResponsesMax = 3
        slow.streamEventsMax = 4
        let streams = [space.watches.openStream {}, space.watches.openStream {},
                       space.watches.openStream(limits: slow) {}, space.watches.openStream(limits: slow) {}]
        let requests = [
            WatchCreateRequest(key: [0], end: [0]),
            WatchCreateRequest(key: bytes("k03")),
            WatchCreateRequest(key: bytes("k0"), end: bytes("k1"), prevKV: true),
            WatchCreateRequest(key: bytes("k1"), end: [0], filters: .noPut),
            WatchCreateRequest(key: bytes("k05"), end: bytes("k09"), filters: .noDelete, prevKV: true),
        ]
        let tracked = Mutex<[WatchID: Tracked]>([:])
        func open(_ request: WatchCreateRequest, on stream: Int) {
            guard case .success(let id) = streams[stream].create(request) else { Issue.record("create refused"); return }
            let key = WatchID(Int64(stream) << 32 | id.rawValue)
            tracked.withLock { $0[key] = Tracked(stream: stream, request: request) }
        }
        for (index, request) in requests.enumerated() { open(request, on: index % streams.count) }

        let board = Board()
        let firstEntry = fixture.applied + 1
        let writer = OSThread(name: "keyspace-watch-writer") {
            var random = SeededGenerator(seed: seed)
            var batchLeft = 0
            for entry in 0..<UInt64(Self.writes) {
                // Apply batches of 1 to 8 entries, as the apply loop makes them.
                if batchLeft == 0 {
                    batchLeft = 1 + Int(random.next() % 8)
                    space.beginBatch()
                }
                defer {
                    batchLeft -= 1
                    if batchLeft == 0 || entry == UInt64(Self.writes - 1) { space.endBatch() }
                }
                let key = bytes(Self.keys[Int(random.next() % UInt64(Self.keys.count))])
                let other = bytes(Self.keys[Int(random.next() % UInt64(Self.keys.count))])
                let applied = ConsistentIndex(index: firstEntry + entry, term: 1)
                switch random.next() % 10 {
                case 0, 1: _ = try! space.deleteRange(DeleteRangeRequest(key: key), applying: applied)
                case 2: _ = try! space.deleteRange(DeleteRangeRequest(key: bytes("k1"), rangeEnd: [0]), applying: applied)
                case 3 where key != other:
                    let txn = TxnRequest(success: [.put(PutRequest(key: key, value: [1])), .put(PutRequest(key: other, value: [2]))])
                    _ = try! space.txn(txn, applying: applied)
                default: _ = try! space.put(PutRequest(key: key, value: Array(String(random.next() % 1000).utf8)), applying: applied)
                }
            }
            board.writerDone.store(true, ordering: .sequentiallyConsistent)
        }
        let syncer = OSThread(name: "keyspace-watch-sync") {
            while true {
                let behind = space.watches.syncUnsynced(eventsMax: 16, watchersMax: 4)
                if behind == 0 && board.writerDone.load(ordering: .sequentiallyConsistent) { break }
                usleep(100)
            }
            board.syncDone.store(true, ordering: .sequentiallyConsistent)
        }
        var pastWatchersOpened = 0
        var round = 0
        while true {
            let finished = board.syncDone.load(ordering: .sequentiallyConsistent)
            var took = 0
            for (index, stream) in streams.enumerated() where index < 2 || round % 40 == 0 || finished {
                let responses = stream.take(max: 64)
                took += responses.count
                tracked.withLock { Self.record(responses, stream: index, &$0) }
            }
            // Watchers from the past join while the writes go on.
            let current = space.store.currentRevision
            if pastWatchersOpened < 6 && current > Int64(200 * (pastWatchersOpened + 1)) {
                var request = requests[pastWatchersOpened % requests.count]
                request.startRevision = Int64(1 + 97 * pastWatchersOpened)
                open(request, on: pastWatchersOpened % streams.count)
                pastWatchersOpened += 1
            }
            if finished && took == 0 && space.watches.unsyncedCount == 0 { break }
            round += 1
            if took == 0 { usleep(50) }
        }
        writer.join()
        syncer.join()
        // The sync thread may have stopped before a last watcher caught up: finish here.
        while space.watches.syncUnsynced(eventsMax: 1000) > 0 {}
        for (index, stream) in streams.enumerated() {
            while case let responses = stream.take(max: 1000), !responses.isEmpty {
                tracked.withLock { Self.record(responses, stream: index, &$0) }
            }
        }
        #expect(pastWatchersOpened == 6)
        let final = space.store.currentRevision
        for (id, watcher) in tracked.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            #expect(watcher.problems.isEmpty, "watcher \(id): \(watcher.problems.prefix(3))")
            let expected = Self.expected(watcher, store: space.store, through: final)
            #expect(watcher.events == expected, "watcher \(id) from \(watcher.start): \(watcher.events.count) events, expected \(expected.count)")
        }
    }

    /// Files each response under its watcher, checking it is whole and in order.
    static func record(_ responses: [WatchResponse], stream: Int, _ tracked: inout [WatchID: Tracked]) {
        for response in responses {
            let key = WatchID(Int64(stream) << 32 | response.watchID.rawValue)
            guard var watcher = tracked[key] else { continue }
            switch response.kind {
            case .created:
                watcher.start = watcher.request.startRevision == 0 ? response.revision + 1 : watcher.request.startRevision
            case .events:
                // A response may carry several revisions (catching up), in order, none above its
                // header revision (the hub's at sending); a revision is never split between two
                // responses.
                let revisions = response.events.map(\.kv.modRevision)
                if revisions.isEmpty || revisions != revisions.sorted() || revisions.last! > response.revision {
                    watcher.problems.append("a response at \(response.revision) with revisions \(revisions)")
                }
                if let first = revisions.first, first <= watcher.lastRevision {
                    watcher.problems.append("revision \(first) after \(watcher.lastRevision)")
                }
                watcher.lastRevision = revisions.last ?? watcher.lastRevision
                watcher.events += response.events
            case .progress: break
            case .canceled, .compacted: watcher.problems.append("ended: \(response.kind)")
            }
            tracked[key] = watcher
        }
    }

    /// The store's history for one watcher, with its filters and prev_kv as etcd sends them.
    static func expected(_ watcher: Tracked, store: KVStore, through final: Int64) -> [Event] {
        let request = watcher.request
        guard case .success(let events) = store.events(from: watcher.start, through: final, key: request.key,
                                                       end: request.end, eventsMax: Int.max) else { return [] }
        return events.compactMap { event in
            if event.kind == .put && request.filters.contains(.noPut) { return nil }
            if event.kind == .delete && request.filters.contains(.noDelete) { return nil }
            var event = event
            event.prevKV = request.prevKV ? store.previous(event.kv.key, before: event.kv.modRevision) : nil
            return event
        }
    }
}

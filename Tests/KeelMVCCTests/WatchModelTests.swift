#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import KeelMVCC

/// A naive full history: every revision's events in an array; implements `EventHistory` the
/// obvious way. `previous` never loses a version (the model does not drop rows on compaction).
final class WatchModelHistory: EventHistory {
    struct Contents {
        var revisions: [[Event]] = [[], []]   // index = revision; an empty history is at revision 1, as etcd's
        var live: [[UInt8]: KeyValue] = [:]
        var compactRevision: Int64 = 0
    }
    let contents = Mutex(Contents())

    var currentRevision: Int64 { contents.withLock { Int64($0.revisions.count - 1) } }
    var compactRevision: Int64 { contents.withLock { $0.compactRevision } }

    /// Applies one write transaction: puts (key, value) and deletes (key) in order. Returns its
    /// events (with prevKV filled) or [] when it changed nothing (no revision).
    func write(_ changes: [(key: [UInt8], value: [UInt8]?)]) -> [Event] {
        contents.withLock { contents in
            let revision = Int64(contents.revisions.count)
            var events: [Event] = []
            for (key, value) in changes {
                let previous = contents.live[key]
                if let value {
                    let kv = KeyValue(key: key, createRevision: previous?.createRevision ?? revision, modRevision: revision,
                                      version: (previous?.version ?? 0) + 1, value: value)
                    contents.live[key] = kv
                    events.append(Event(kind: .put, kv: kv, prevKV: previous))
                } else if let previous {
                    contents.live[key] = nil
                    events.append(Event(kind: .delete, kv: KeyValue(key: key, createRevision: 0, modRevision: revision, version: 0, value: []),
                                        prevKV: previous))
                }
            }
            if !events.isEmpty { contents.revisions.append(events) }
            return events
        }
    }

    func compact(_ revision: Int64) {
        contents.withLock { $0.compactRevision = max($0.compactRevision, revision) }
    }

    func events(from: Int64, through: Int64, key: [UInt8], end: [UInt8]?, eventsMax: Int) -> Result<[Event], MVCCRefusal> {
        contents.withLock { contents in
            if from < contents.compactRevision { return .failure(.compacted(compactRevision: contents.compactRevision)) }
            precondition(through < contents.revisions.count)
            let range = WatchKeyRange(key: key, end: end)
            var found: [Event] = []
            var revision = from
            while revision <= through {
                for event in contents.revisions[Int(revision)] where range.contains(event.kv.key) {
                    var copy = event
                    copy.prevKV = nil
                    found.append(copy)
                }
                if found.count >= eventsMax { break }
                revision += 1
            }
            return .success(found)
        }
    }

    func previous(_ key: [UInt8], before revision: Int64) -> KeyValue? {
        contents.withLock { contents in
            for index in stride(from: Int(revision) - 1, through: 1, by: -1) {
                if let event = contents.revisions[index].last(where: { $0.kv.key == key }) {
                    return event.kind == .put ? event.kv : nil
                }
            }
            return nil
        }
    }

    /// The events a watcher must see from `start` (an effective start revision) through the end.
    func expected(_ request: WatchCreateRequest, from start: Int64) -> [Event] {
        let range = WatchKeyRange(key: request.key, end: request.end)
        return contents.withLock { contents in
            var expected: [Event] = []
            for revision in Int(max(start, 1))..<max(Int(max(start, 1)), contents.revisions.count) {
                for event in contents.revisions[revision] where range.contains(event.kv.key) {
                    if event.kind == .put && request.filters.contains(.noPut) { continue }
                    if event.kind == .delete && request.filters.contains(.noDelete) { continue }
                    var copy = event
                    if !request.prevKV { copy.prevKV = nil }
                    expected.append(copy)
                }
            }
            return expected
        }
    }
}

/// SplitMix64: small, seeded, the same on every platform.
struct WatchTestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The seed of a random test: KEEL_SEED when set (replays one run), else fresh ones.

@Suite struct WatchModelTests {
    /// One watcher as the test sees it.
    struct Tracked {
        let stream: Int
        let request: WatchCreateRequest
        /// The effective start revision (0 resolved to the revision after creation).
        let start: Int64
        var id: WatchID?
        var canceledByTest = false
    }

    struct Run {
        var random: WatchTestRandom
        let history = WatchModelHistory()
        let hub: WatchHub
        var streams: [WatchStream] = []
        var slow: [Bool] = []
        var received: [[WatchResponse]] = []
        var watchers: [Tracked] = []
        let keys: [[UInt8]] = ["a", "ab", "abc", "b", "b1", "c"].map { Array($0.utf8) }

        init(seed: UInt64) {
            random = WatchTestRandom(seed: seed)
            var limits = WatchLimits()
            limits.progressIntervalNanoseconds = 10
            hub = WatchHub(history: history, limits: limits)
            for index in 0..<4 {
                let isSlow = index >= 2
                var streamLimits = limits
                if isSlow { streamLimits.streamResponsesMax = 2; streamLimits.streamEventsMax = 3 }
                streams.append(hub.openStream(limits: streamLimits) {})
                slow.append(isSlow)
                received.append([])
            }
        }

        mutating func write() {
            var changes: [(key: [UInt8], value: [UInt8]?)] = []
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let key = keys.randomElement(using: &random)!
                // One key once per revision, as a Txn requires.
                if changes.contains(where: { $0.key == key }) { continue }
                let value: [UInt8]? = Int.random(in: 0..<3, using: &random) == 0 ? nil : [UInt8.random(in: 0...255, using: &random)]
                changes.append((key, value))
            }
            var events = history.write(changes)
            guard !events.isEmpty else { return }
            // The store may or may not hand prevKV over with the events.
            if Bool.random(using: &random) { for index in events.indices { events[index].prevKV = nil } }
            hub.notify(revision: events[0].kv.modRevision, events: events)
        }

        mutating func createWatcher() {
            let key = keys.randomElement(using: &random)!
            let end: [UInt8]? = switch Int.random(in: 0..<3, using: &random) {
            case 0: nil
            case 1: key.dropLast() + [key.last! + 1]      // prefix
            default: [0]                                   // from key
            }
            let current = history.currentRevision
            let startRevision: Int64 = switch Int.random(in: 0..<3, using: &random) {
            case 0: 0
            case 1: Int64.random(in: 1...max(1, current), using: &random)
            default: current + Int64.random(in: 1...3, using: &random)
            }
            var filters: WatchFilters = []
            if Int.random(in: 0..<5, using: &random) == 0 { filters.insert(.noPut) }
            if Int.random(in: 0..<5, using: &random) == 0 { filters.insert(.noDelete) }
            let stream = Int.random(in: 0..<streams.count, using: &random)
            let request = WatchCreateRequest(key: key, end: end, startRevision: startRevision, filters: filters,
                                             prevKV: Bool.random(using: &random), progressNotify: Bool.random(using: &random))
            let result = streams[stream].create(request)
            guard case .success(let id) = result else { Issue.record("create refused: \(result)"); return }
            watchers.append(Tracked(stream: stream, request: request, start: startRevision == 0 ? current + 1 : startRevision, id: id))
        }

        mutating func take(_ stream: Int) {
            received[stream] += streams[stream].take(max: Int.random(in: 1...4, using: &random))
        }

        mutating func step(_ tick: inout Int64) {
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<40: write()
            case 40..<50: createWatcher()
            case 50..<62: hub.syncUnsynced(eventsMax: Int.random(in: 1...6, using: &random), watchersMax: Int.random(in: 1...4, using: &random))
            case 62..<85:
                let stream = Int.random(in: 0..<streams.count, using: &random)
                if !slow[stream] || Int.random(in: 0..<6, using: &random) == 0 { take(stream) }
            case 85..<88:
                let current = history.currentRevision
                history.compact(Int64.random(in: 0...max(0, current - 2), using: &random))
            case 88..<91:
                let live = watchers.indices.filter { !watchers[$0].canceledByTest && watchers[$0].id != nil }
                if let index = live.randomElement(using: &random) {
                    streams[watchers[index].stream].cancel(watchers[index].id!)
                    watchers[index].canceledByTest = true
                }
            case 91..<94: streams[Int.random(in: 0..<streams.count, using: &random)].requestProgress()
            default:
                tick += Int64.random(in: 1...8, using: &random)
                hub.tick(nowNanoseconds: tick)
            }
        }

        /// Lets every watcher catch up and every stream drain.
        mutating func drain() {
            for _ in 0..<10_000 {
                hub.syncUnsynced(eventsMax: 5)
                for stream in streams.indices {
                    while true {
                        let batch = streams[stream].take(max: 3)
                        if batch.isEmpty { break }
                        received[stream] += batch
                    }
                }
                if hub.unsyncedCount == 0 && streams.allSatisfy({ $0.pendingResponses == 0 }) { return }
            }
            Issue.record("the streams never drained: \(hub.unsyncedCount) unsynced")
        }
    }

    @Test func everyWatcherSeesExactlyTheModelsEvents() {
        for seed in KeelSeed.seeds(count: 12) {
            print("WatchModelTests seed \(seed) (replay with KEEL_SEED=\(seed))")
            var run = Run(seed: seed)
            var tick: Int64 = 0
            for _ in 0..<600 {
                run.step(&tick)
                // Bounded: a stream holds at most its events bound, or one whole revision (at
                // most 3 events here) that entered it empty.
                for (index, stream) in run.streams.enumerated() {
                    let bound = run.slow[index] ? 3 : WatchLimits().streamEventsMax
                    #expect(stream.pendingEvents <= bound, "seed \(seed): stream \(index) holds \(stream.pendingEvents) events")
                }
            }
            run.drain()
            Self.check(run, seed: seed)
        }
    }
}

extension WatchModelTests {
    static func check(_ run: Run, seed: UInt64) {
        let finalCompact = run.history.compactRevision
        // Per stream: for each watcher, the position of its created and terminal responses.
        for (number, tracked) in run.watchers.enumerated() {
            guard let id = tracked.id else { continue }
            let label = "seed \(seed) watcher \(number) (stream \(tracked.stream) id \(id) start \(tracked.start) \(tracked.request))"
            let stream = run.received[tracked.stream]
            let own = stream.enumerated().filter { $0.element.watchID == id }
            guard let first = own.first, first.element.kind == .created else {
                Issue.record("\(label): first response is not created: \(own.first.map { "\($0.element.kind)" } ?? "none")")
                continue
            }
            let expected = run.history.expected(tracked.request, from: tracked.start)
            var delivered: [Event] = []
            var terminal: WatchResponse.Kind?
            for (_, response) in own.dropFirst() {
                if terminal != nil { Issue.record("\(label): \(response.kind) after \(terminal!)"); break }
                switch response.kind {
                case .created: Issue.record("\(label): created twice")
                case .events:
                    checkWholeRevisions(response.events, expected: expected, label: label)
                    delivered += response.events
                case .progress:
                    let due = expected.filter { $0.kv.modRevision <= response.revision }
                    #expect(Array(delivered.prefix(due.count)) == due && delivered.count == due.count,
                            "\(label): progress at \(response.revision) before all its events")
                case .canceled, .compacted: terminal = response.kind
                }
            }
            #expect(Array(expected.prefix(delivered.count)) == delivered, "\(label): delivered events differ from the model's")
            switch terminal {
            case nil:
                #expect(!tracked.canceledByTest, "\(label): canceled without a canceled response")
                #expect(delivered.count == expected.count, "\(label): \(delivered.count) of \(expected.count) events delivered")
            case .compacted(let compactRevision):
                let next = delivered.last.map { $0.kv.modRevision + 1 } ?? tracked.start
                #expect(next < compactRevision && compactRevision <= finalCompact, "\(label): compacted at \(compactRevision), next \(next)")
            default:
                #expect(tracked.canceledByTest, "\(label): canceled by the engine")
            }
        }
        checkStreamProgress(run, seed: seed)
    }

    /// Every revision in a response is there whole: all the watcher's events of it, in order.
    static func checkWholeRevisions(_ events: [Event], expected: [Event], label: String) {
        #expect(!events.isEmpty, "\(label): an empty events response")
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.kv.modRevision <= $1.kv.modRevision }, "\(label): out of order")
        for revision in Set(events.map(\.kv.modRevision)) {
            #expect(events.filter { $0.kv.modRevision == revision } == expected.filter { $0.kv.modRevision == revision },
                    "\(label): revision \(revision) not whole in one response")
        }
    }

    /// A stream-wide progress response at P comes after every event at or below P of every
    /// watcher that existed on the stream when it was made.
    static func checkStreamProgress(_ run: Run, seed: UInt64) {
        for (streamIndex, stream) in run.received.enumerated() {
            for (position, response) in stream.enumerated() where response.watchID == .invalid {
                #expect(response.kind == .progress)
                for tracked in run.watchers where tracked.stream == streamIndex {
                    guard let id = tracked.id,
                          let created = stream.firstIndex(where: { $0.watchID == id && $0.kind == .created }), created < position else { continue }
                    // A watcher ended before it, or canceled by the client after it (its queued
                    // events are dropped then, as etcd drops them), is not held to it.
                    let ended = stream.contains { response in
                        guard response.watchID == id else { return false }
                        if case .canceled = response.kind { return true }
                        if case .compacted = response.kind { return true }
                        return false
                    }
                    if ended { continue }
                    let before = stream[..<position].filter { $0.watchID == id }
                    let delivered = before.flatMap(\.events)
                    let due = run.history.expected(tracked.request, from: tracked.start).filter { $0.kv.modRevision <= response.revision }
                    #expect(delivered == due, "seed \(seed) stream \(streamIndex): progress at \(response.revision) before watcher \(id) had its events")
                }
            }
        }
    }
}

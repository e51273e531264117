import KeelStorage
import KeelTestSupport
import Testing
@testable import KeelMVCC

/// The naive model: every revision's whole state (key → KeyValue) and events, kept forever,
/// with etcd's rules written out plainly over it.
struct KeySpaceModel {
    typealias State = [[UInt8]: KeyValue]
    /// `states[r]`: the key space at revision r. As in etcd an empty key space is at revision
    /// 1, so `states[0]` and `states[1]` are empty and the first write makes revision 2.
    var states: [State] = [[:], [:]]
    var events: [[Event]] = [[], []]
    var compactRevision: Int64 = 0
    let leases: Set<LeaseID>

    var current: Int64 { Int64(states.count - 1) }

    static func inRange(_ key: [UInt8], _ start: [UInt8], _ end: [UInt8]) -> Bool {
        if end.isEmpty { return key == start }
        if key.lexicographicallyPrecedes(start) { return false }
        return end == [0] || key.lexicographicallyPrecedes(end)
    }

    static func keys(_ state: State, _ start: [UInt8], _ end: [UInt8]) -> [[UInt8]] {
        state.keys.filter { inRange($0, start, end) }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    func range(_ request: RangeRequest, working: State? = nil, current: Int64? = nil) -> Result<RangeResponse, MVCCRefusal> {
        let current = current ?? self.current
        if request.revision > current { return .failure(.futureRevision) }
        let revision = request.revision <= 0 ? current : request.revision
        if revision < compactRevision { return .failure(.compacted(compactRevision: compactRevision)) }
        let state = revision == current ? (working ?? states[Int(revision)]) : states[Int(revision)]
        let keys = Self.keys(state, request.key, request.rangeEnd)
        if request.countOnly { return .success(RangeResponse(revision: current, kvs: [], more: false, count: Int64(keys.count))) }
        var kvs = keys.map { state[$0]! }
        let filtered = request.minModRevision != 0 || request.maxModRevision != 0 || request.minCreateRevision != 0 || request.maxCreateRevision != 0
        if request.sortOrder == .none && !filtered && request.limit > 0 { kvs = Array(kvs.prefix(Int(request.limit) + 1)) }
        kvs = kvs.filter {
            (request.maxModRevision == 0 || $0.modRevision <= request.maxModRevision)
                && (request.minModRevision == 0 || $0.modRevision >= request.minModRevision)
                && (request.maxCreateRevision == 0 || $0.createRevision <= request.maxCreateRevision)
                && (request.minCreateRevision == 0 || $0.createRevision >= request.minCreateRevision)
        }
        let order = request.sortTarget != .key && request.sortOrder == .none ? .ascend : request.sortOrder
        if order != .none {
            func less(_ a: KeyValue, _ b: KeyValue) -> Bool {
                switch request.sortTarget {
                case .key: a.key.lexicographicallyPrecedes(b.key)
                case .value: a.value.lexicographicallyPrecedes(b.value)
                case .version: a.version < b.version
                case .create: a.createRevision < b.createRevision
                case .mod: a.modRevision < b.modRevision
                }
            }
            kvs.sort { order == .ascend ? less($0, $1) : less($1, $0) }
        }
        var more = false
        if request.limit > 0 && kvs.count > Int(request.limit) {
            kvs = Array(kvs.prefix(Int(request.limit)))
            more = true
        }
        if request.keysOnly { kvs = kvs.map { var kv = $0; kv.value = []; return kv } }
        return .success(RangeResponse(revision: current, kvs: kvs, more: more, count: Int64(keys.count)))
    }

    /// One write transaction's working copy.
    struct Working {
        var state: State
        let main: Int64
        var events: [Event] = []
        var readRevision: Int64 { events.isEmpty ? main - 1 : main }
    }

    mutating func commit(_ working: Working) {
        guard !working.events.isEmpty else { return }
        states.append(working.state)
        events.append(working.events)
    }

    mutating func put(_ request: PutRequest) -> Result<PutResponse, MVCCRefusal> {
        if request.lease != .none && !leases.contains(request.lease) { return .failure(.leaseNotFound(request.lease)) }
        if (request.ignoreValue || request.ignoreLease) && states[Int(current)][request.key] == nil { return .failure(.keyNotFound) }
        var working = Working(state: states[Int(current)], main: current + 1)
        let response = applyPut(request, &working)
        commit(working)
        return .success(response)
    }

    func applyPut(_ request: PutRequest, _ working: inout Working) -> PutResponse {
        let previous = working.state[request.key]
        let kv = KeyValue(key: request.key, createRevision: previous?.createRevision ?? working.main, modRevision: working.main,
                          version: (previous?.version ?? 0) + 1, value: request.ignoreValue ? previous!.value : request.value,
                          lease: request.ignoreLease ? previous!.lease : request.lease)
        working.state[request.key] = kv
        working.events.append(Event(kind: .put, kv: kv, prevKV: request.prevKV ? previous : nil))
        return PutResponse(revision: working.main, prevKV: request.prevKV ? previous : nil)
    }

    mutating func deleteRange(_ request: DeleteRangeRequest) -> Result<DeleteRangeResponse, MVCCRefusal> {
        var working = Working(state: states[Int(current)], main: current + 1)
        let response = applyDelete(request, &working)
        commit(working)
        return .success(response)
    }

    func applyDelete(_ request: DeleteRangeRequest, _ working: inout Working) -> DeleteRangeResponse {
        let keys = Self.keys(working.state, request.key, request.rangeEnd)
        let previous = keys.map { working.state[$0]! }
        for (key, kv) in zip(keys, previous) {
            working.state[key] = nil
            working.events.append(Event(kind: .delete, kv: KeyValue(key: key, createRevision: 0, modRevision: working.main, version: 0, value: []),
                                        prevKV: request.prevKV ? kv : nil))
        }
        return DeleteRangeResponse(revision: working.readRevision, deleted: Int64(keys.count), prevKVs: request.prevKV ? previous : [])
    }

    func holds(_ compare: Compare) -> Bool {
        let state = states[Int(current)]
        let kvs = Self.keys(state, compare.key, compare.rangeEnd).map { state[$0]! }
        if kvs.isEmpty, case .value = compare.target { return false }
        return (kvs.isEmpty ? [KeyValue(key: [], createRevision: 0, modRevision: 0, version: 0, value: [])] : kvs).allSatisfy { kv in
            let (left, right): (Int64, Int64)
            switch compare.target {
            case .value(let value):
                let order: Int64 = kv.value == value ? 0 : (kv.value.lexicographicallyPrecedes(value) ? -1 : 1)
                (left, right) = (order, 0)
            case .version(let version): (left, right) = (kv.version, version)
            case .create(let created): (left, right) = (kv.createRevision, created)
            case .mod(let modified): (left, right) = (kv.modRevision, modified)
            case .lease(let lease): (left, right) = (kv.lease.rawValue, lease.rawValue)
            }
            switch compare.result {
            case .equal: return left == right
            case .notEqual: return left != right
            case .greater: return left > right
            case .less: return left < right
            }
        }
    }

    mutating func txn(_ request: TxnRequest) -> Result<TxnResponse, MVCCRefusal> {
        // The duplicate-key rule is etcd's checkIntervals, tested on its own in KVStoreTests.
        guard TxnChecks.writesEachKeyOnce(request) else { return .failure(.duplicateKey) }
        if let refusal = refusal(request, puts: true) ?? refusal(request, puts: false) { return .failure(refusal) }
        var working = Working(state: states[Int(current)], main: current + 1)
        var response = applyTxn(request, &working)
        response.revision = working.readRevision
        commit(working)
        return .success(response)
    }

    func refusal(_ request: TxnRequest, puts: Bool) -> MVCCRefusal? {
        var working = states[Int(current)]
        return refusal(request, puts: puts, &working)
    }

    /// Walks the chosen branches in order on a copy of the state, deleting as the Txn will:
    /// an ignore_value / ignore_lease put must find its key there (Keel refuses where etcd panics).
    func refusal(_ request: TxnRequest, puts: Bool, _ working: inout State) -> MVCCRefusal? {
        for op in holdsAll(request) ? request.success : request.failure {
            switch op {
            case .put(let put) where puts:
                if (put.ignoreValue || put.ignoreLease) && working[put.key] == nil { return .keyNotFound }
                if put.lease != .none && !leases.contains(put.lease) { return .leaseNotFound(put.lease) }
                working[put.key] = KeyValue(key: put.key, createRevision: 0, modRevision: 0, version: 0, value: [])
            case .deleteRange(let delete) where puts:
                for key in Self.keys(working, delete.key, delete.rangeEnd) { working[key] = nil }
            case .range(let range) where !puts:
                if range.revision > current { return .futureRevision }
                if range.revision > 0 && range.revision < compactRevision { return .compacted(compactRevision: compactRevision) }
            case .txn(let inner):
                if let found = refusal(inner, puts: puts, &working) { return found }
            default:
                continue
            }
        }
        return nil
    }

    func holdsAll(_ request: TxnRequest) -> Bool { request.compare.allSatisfy(holds) }

    func applyTxn(_ request: TxnRequest, _ working: inout Working) -> TxnResponse {
        let succeeded = holdsAll(request)
        var responses: [ResponseOp] = []
        for op in succeeded ? request.success : request.failure {
            switch op {
            case .range(let range):
                guard case .success(let response) = self.range(range, working: working.state, current: working.readRevision) else {
                    preconditionFailure("model range refused after checks")
                }
                responses.append(.range(response))
            case .put(let put): responses.append(.put(applyPut(put, &working)))
            case .deleteRange(let delete): responses.append(.deleteRange(applyDelete(delete, &working)))
            case .txn(let inner): responses.append(.txn(applyTxn(inner, &working)))
            }
        }
        return TxnResponse(revision: 0, succeeded: succeeded, responses: responses)
    }

    mutating func compact(_ revision: Int64) -> Result<CompactResponse, MVCCRefusal> {
        if revision <= compactRevision { return .failure(.compacted(compactRevision: compactRevision)) }
        if revision > current { return .failure(.futureRevision) }
        compactRevision = revision
        return .success(CompactResponse(revision: current))
    }

    /// etcd's watch history over the model.
    func history(from: Int64, through: Int64, key: [UInt8], end: [UInt8]?, eventsMax: Int) -> Result<[Event], MVCCRefusal> {
        if from < compactRevision { return .failure(.compacted(compactRevision: compactRevision)) }
        var found: [Event] = []
        var revision = from
        while revision <= min(through, current) && found.count < eventsMax {
            found += events[Int(revision)].filter { Self.inRange($0.kv.key, key, end ?? []) }.map { Event(kind: $0.kind, kv: $0.kv) }
            revision += 1
        }
        return .success(found)
    }
}

/// Random requests over a small key space, so that keys collide, ranges overlap and sorts tie.
struct RequestGenerator {
    var random: SeededGenerator
    static let keys: [[UInt8]] = ["a", "ab", "abc", "b", "b\0", "c", "d", "z"].map { Array($0.utf8) } + [[0], [0xFF]]
    static let values: [[UInt8]] = ["", "x", "y", "zz"].map { Array($0.utf8) }

    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }
    mutating func key() -> [UInt8] { Self.keys.randomElement(using: &random)! }
    mutating func value() -> [UInt8] { Self.values.randomElement(using: &random)! }
    mutating func end() -> [UInt8] {
        switch Int.random(in: 0..<4, using: &random) {
        case 0, 1: return []
        case 2: return [0]
        default: return key()
        }
    }
    mutating func number(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &random) }

    mutating func put() -> PutRequest {
        let ignoreValue = chance(10)
        let ignoreLease = chance(10)
        return PutRequest(key: key(), value: ignoreValue ? [] : value(), lease: ignoreLease ? .none : LeaseID(number(0...3) == 3 ? 3 : number(0...2)),
                          prevKV: chance(40), ignoreValue: ignoreValue, ignoreLease: ignoreLease)
    }

    mutating func delete() -> DeleteRangeRequest {
        DeleteRangeRequest(key: key(), rangeEnd: chance(50) ? [] : end(), prevKV: chance(40))
    }

    mutating func range(current: Int64, compact: Int64) -> RangeRequest {
        let orders: [RangeRequest.SortOrder] = [.none, .ascend, .descend]
        let targets: [RangeRequest.SortTarget] = [.key, .version, .create, .mod, .value]
        func filter() -> Int64 { chance(15) ? number(0...max(1, current)) : 0 }
        return RangeRequest(key: key(), rangeEnd: end(), limit: chance(50) ? number(-1...4) : 0,
                            revision: chance(50) ? 0 : number(max(0, compact - 2)...current + 2),
                            sortOrder: orders.randomElement(using: &random)!, sortTarget: targets.randomElement(using: &random)!,
                            keysOnly: chance(15), countOnly: chance(10),
                            minModRevision: filter(), maxModRevision: filter(), minCreateRevision: filter(), maxCreateRevision: filter())
    }

    mutating func compare(current: Int64) -> Compare {
        let target: Compare.Target
        switch Int.random(in: 0..<5, using: &random) {
        case 0: target = .value(value())
        case 1: target = .version(number(0...3))
        case 2: target = .create(number(0...max(0, current)))
        case 3: target = .mod(number(0...max(0, current)))
        default: target = .lease(LeaseID(number(0...2)))
        }
        let results: [Compare.Result] = [.equal, .notEqual, .less, .greater]
        return Compare(key: key(), rangeEnd: chance(25) ? end() : [], target, results.randomElement(using: &random)!)
    }

    /// A random Txn; `readOnly` ones have only ranges and read-only nested Txns.
    mutating func txn(current: Int64, compact: Int64, depth: Int = 0, readOnly: Bool = false) -> TxnRequest {
        func ops(_ generator: inout RequestGenerator) -> [RequestOp] {
            (0..<Int.random(in: 0...3, using: &generator.random)).map { _ in
                switch Int.random(in: 0..<(depth < 2 ? 4 : 3), using: &generator.random) {
                case 0: .range(generator.range(current: current, compact: compact))
                case 1 where !readOnly: .put(generator.put())
                case 2 where !readOnly: .deleteRange(generator.delete())
                case 1, 2: .range(generator.range(current: current, compact: compact))
                default: .txn(generator.txn(current: current, compact: compact, depth: depth + 1, readOnly: readOnly))
                }
            }
        }
        let compares = (0..<Int.random(in: 0...2, using: &random)).map { _ in compare(current: current) }
        return TxnRequest(compare: compares, success: ops(&self), failure: ops(&self))
    }
}

@Suite struct KVStoreModelTests {
    @Test func randomOperationsMatchTheFullHistoryModel() throws {
        let seed = KeelSeed.value()
        print("KVStoreModelTests seed \(seed) (replay with KEEL_SEED=\(seed))")
        for round in 0..<3 {
            try run(seed: seed &+ UInt64(round), operations: 700)
        }
    }

    private func run(seed: UInt64, operations: Int) throws {
        var generator = RequestGenerator(random: SeededGenerator(seed: seed))
        var options = KVStoreOptions()
        options.commitRowsMax = Int(generator.number(1...40))
        options.compactionKeysPerStep = Int(generator.number(1...4))
        options.compactionRowsPerStep = Int(generator.number(1...6))
        let fixture = try StoreFixture(options: options)
        var model = KeySpaceModel(leases: StoreFixture.leases)
        /// What the model was after each applied entry: (revision, compact revision).
        var modelAt: [UInt64: (Int64, Int64)] = [0: (1, 0)]
        var counts = (writes: 0, refused: 0, ranges: 0, crashes: 0, reopens: 0, readOnlyTxns: 0)

        for step in 0..<operations {
            let context = "seed \(seed) step \(step)"
            let choice = Int(generator.number(0...99))
            if choice < 25 {
                let request = generator.put()
                let applied = try fixture.store.put(request, applying: fixture.next())
                let expected = model.put(request)
                #expect(applied.response == expected, "\(context) put \(request)")
                #expect(applied.events == (try? expected.get()).map { _ in model.events[Int(model.current)] } ?? [], "\(context) events")
            } else if choice < 37 {
                let request = generator.delete()
                let before = model.current
                let applied = try fixture.store.deleteRange(request, applying: fixture.next())
                let expected = model.deleteRange(request)
                #expect(applied.response == expected, "\(context) delete \(request)")
                #expect(applied.events == (model.current > before ? model.events[Int(model.current)] : []), "\(context) events")
            } else if choice < 57 {
                let request = generator.txn(current: model.current, compact: model.compactRevision, readOnly: generator.chance(30))
                // A Txn that writes nothing is served as a read (no log entry): it must answer
                // what applying it answers.
                let asRead = request.isReadOnly ? fixture.store.readOnlyTxn(request) : nil
                if asRead != nil { counts.readOnlyTxns += 1 }
                let before = model.current
                let applied = try fixture.store.txn(request, applying: fixture.next())
                let expected = model.txn(request)
                #expect(applied.response == expected, "\(context) txn \(request)")
                if let asRead { #expect(asRead == expected, "\(context) read-only txn \(request)") }
                #expect(applied.events == (model.current > before ? model.events[Int(model.current)] : []), "\(context) events")
                if case .failure = expected { counts.refused += 1 }
            } else if choice < 61 {
                let revision = generator.number(max(0, model.compactRevision - 1)...model.current + 1)
                #expect(try fixture.store.compact(revision, applying: fixture.next()) == model.compact(revision), "\(context) compact \(revision)")
            } else if choice < 90 {
                let request = generator.range(current: model.current, compact: model.compactRevision)
                #expect(fixture.store.range(request) == model.range(request), "\(context) range \(request)")
                counts.ranges += 1
                continue
            } else if choice < 94 {
                try checkHistory(fixture, model, &generator, context)
                continue
            } else if choice < 96 {
                try fixture.store.flush()
                continue
            } else if choice < 98 {
                try fixture.store.compactStep()
                continue
            } else {
                let crash = generator.chance(50)
                try fixture.reopen(crash: crash)
                let applied = fixture.store.consistentIndex.index
                guard let (revision, compact) = modelAt[applied] else { Issue.record("\(context): reopened at unknown entry \(applied)"); return }
                model.states.removeLast(Int(model.current - revision))
                model.events.removeLast(model.events.count - model.states.count)
                model.compactRevision = compact
                #expect(fixture.store.currentRevision == revision && fixture.store.compactRevision == compact, "\(context) reopen")
                let leased = model.states[Int(revision)].values.filter { $0.lease != .none }
                    .sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { "\($0.key):\($0.lease)" }
                #expect(fixture.store.leasesAtOpen.map { "\($0.key):\($0.lease)" } == leased, "\(context) leases at open")
                modelAt = modelAt.filter { $0.key <= applied }
                if crash { counts.crashes += 1 } else { counts.reopens += 1 }
                continue
            }
            counts.writes += 1
            modelAt[fixture.applied] = (model.current, model.compactRevision)
            if generator.chance(30) { try fixture.store.compactStep() }
        }
        try fixture.store.finishCompaction()
        for revision in max(1, model.compactRevision)...max(1, model.current) where revision <= model.current {
            let request = RangeRequest(key: [0], rangeEnd: [0], revision: revision)
            #expect(fixture.store.range(request) == model.range(request), "seed \(seed) final range at \(revision)")
        }
        print("KVStoreModelTests seed \(seed): revision \(model.current), compacted \(model.compactRevision), \(counts)")
        #expect(counts.readOnlyTxns > 0, "seed \(seed): no read-only Txn was tried")
    }

    /// The watch engine's reads (events, previous) against the model.
    private func checkHistory(_ fixture: StoreFixture, _ model: KeySpaceModel, _ generator: inout RequestGenerator, _ context: String) throws {
        let from = generator.number(max(0, model.compactRevision - 1)...model.current + 1)
        let through = generator.number(from...model.current + 1)
        let key = generator.key()
        let end = generator.chance(30) ? nil : generator.end()
        let eventsMax = Int(generator.number(1...6))
        #expect(fixture.store.events(from: from, through: through, key: key, end: end, eventsMax: eventsMax)
            == model.history(from: from, through: through, key: key, end: end, eventsMax: eventsMax),
                "\(context) events(\(from), \(through), \(key), \(String(describing: end)), \(eventsMax))")
        let before = generator.number(max(1, model.compactRevision + 1)...model.current + 1)
        let expected = before - 1 <= model.current ? model.states[Int(before - 1)][key] : nil
        #expect(fixture.store.previous(key, before: before) == expected, "\(context) previous(\(key), \(before))")
    }
}

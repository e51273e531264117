#if canImport(Glibc)
import Glibc
#endif
@testable import KeelMVCC
import KeelTestSupport
import Testing

/// The revision index against a naive model (key → every revision it ever got, with
/// tombstones): random write transactions, compactions at random revisions run in small
/// batches with writes in between, and get / forEach / forEachDescending / count at random
/// revisions, on the builder and on frozen versions. A few frozen versions are kept with the
/// model as it was and checked again much later: they must never change. `KEEL_SEED` replays.
@Suite struct RevisionIndexTests {
    @Test(arguments: KeelSeed.seeds([21, 22, 23, 24]))
    func randomHistoryMatchesAModel(seed: UInt64) {
        print("RevisionIndexTests seed \(seed)")
        let run = IndexModelRun(seed: seed)
        for step in 0..<3_000 { run.step(step) }
        run.finishCompaction()
        run.checkFrozenVersions()
        print("RevisionIndexTests seed \(seed): \(run.done)")
        #expect(run.done.compactions >= 5 && run.done.freezes >= 20 && run.done.tombstones >= 100
                && run.done.keysRemovedByCompaction >= 5, "seed \(seed): the run did not exercise enough: \(run.done)")
    }

    @Test func rangeRulesFollowEtcd() {
        let builder = IndexBuilder(IndexVersion())
        for (index, key) in ([[0x61], [0x61, 0x00], [0x62], [0x80], [0xFF]] as [[UInt8]]).enumerated() {
            builder.put(key, Revision(main: Int64(index + 1)))
        }
        let version = builder.freeze()
        func keys(_ key: [UInt8], _ end: [UInt8]?) -> [[UInt8]] {
            var seen: [[UInt8]] = []
            version.forEach(from: key, to: end, atRevision: 5) { key, _, _, _ in seen.append(key); return true }
            return seen
        }
        #expect(keys([0x61], nil) == [[0x61]])
        #expect(keys([0x61], []) == [[0x61]])
        #expect(keys([0x63], nil) == [])
        #expect(keys([0x61], [0x00]) == [[0x61], [0x61, 0x00], [0x62], [0x80], [0xFF]])
        #expect(keys([0x62], [0x00]) == [[0x62], [0x80], [0xFF]])
        #expect(keys([0x61], [0x62]) == [[0x61], [0x61, 0x00]]) // a prefix range
        #expect(keys([0x62], [0x61]) == [])
        #expect(version.count(from: [0x00], to: [0x00], atRevision: 3) == 3)
        #expect(version.count(from: [0x00], to: [0x00], atRevision: 0) == 0)
    }
}

/// The reads the model test checks, on a builder and on a frozen version alike.
protocol IndexReading {
    func get(_ key: [UInt8], atRevision: Int64) -> (modified: Revision, created: Revision, version: Int64)?
    func forEach(from key: [UInt8], to end: [UInt8]?, atRevision: Int64,
                 _ body: (_ key: [UInt8], _ modified: Revision, _ created: Revision, _ version: Int64) -> Bool)
    func forEachDescending(from key: [UInt8], to end: [UInt8]?, atRevision: Int64,
                           _ body: (_ key: [UInt8], _ modified: Revision, _ created: Revision, _ version: Int64) -> Bool)
    func count(from key: [UInt8], to end: [UInt8]?, atRevision: Int64) -> Int
    func keyIndex(_ key: [UInt8]) -> KeyIndex?
    var keyCount: Int { get }
}

extension IndexVersion: IndexReading {}
extension IndexBuilder: IndexReading {}

/// One seeded run of the model test.
final class IndexModelRun {
    typealias History = [(revision: Revision, tombstone: Bool)]
    typealias Model = [[UInt8]: History]
    struct Found: Equatable, CustomStringConvertible {
        var key: [UInt8], modified: Revision, created: Revision, version: Int64
        var description: String { "\(key)@\(modified) created \(created) v\(version)" }
    }
    struct Done: CustomStringConvertible {
        var transactions = 0, tombstones = 0, compactions = 0, batches = 0, freezes = 0, keysRemovedByCompaction = 0
        var description: String {
            "\(transactions) txns, \(tombstones) tombstones, \(compactions) compactions in \(batches) batches, "
                + "\(freezes) freezes, \(keysRemovedByCompaction) keys removed by compaction"
        }
    }
    struct Compaction {
        var atRevision: Int64
        var resume: [UInt8]?
        var keep: Set<Revision> = []
        var expectedKeep: Set<Revision>
    }
    struct Frozen {
        var version: IndexVersion, model: Model, floor: Int64, current: Int64
    }

    let seed: UInt64
    var random: SeededGenerator
    let keys: [[UInt8]]
    let builder: IndexBuilder
    var model: Model = [:]
    var current: Int64 = 0
    /// The lowest revision reads may ask for: the newest compaction's (once it has started).
    var floor: Int64 = 0
    var compaction: Compaction?
    var frozen: [Frozen] = []
    var done = Done()

    init(seed: UInt64) {
        self.seed = seed
        var random = SeededGenerator(seed: seed)
        let alphabet: [UInt8] = [0x00, 0x61, 0x7F, 0x80, 0xFF]
        var keys = Set<[UInt8]>()
        while keys.count < 100 {
            var key: [UInt8] = []
            for _ in 0..<Int.random(in: 1...3, using: &random) { key.append(alphabet.randomElement(using: &random)!) }
            keys.insert(key)
        }
        self.random = random
        self.keys = keys.sorted { $0.lexicographicallyPrecedes($1) }
        builder = IndexBuilder(IndexVersion(nodeCapacity: [4, 5, 64][Int(seed % 3)]))
    }

    func step(_ step: Int) {
        let label = "seed \(seed) step \(step)"
        let roll = Int.random(in: 0..<100, using: &random)
        switch roll {
        case 0..<40: write(label)
        case 40..<55: checkReads(builder, model, floor: floor, current: current, "\(label) builder")
        case 55..<62: compactionStep(label)
        case 62..<66: freeze(label)
        case 66..<68: checkFrozenVersions()
        default: write(label)
        }
        if compaction == nil { #expect(builder.keyCount == model.count, "\(label): keyCount") }
    }

    func write(_ label: String) {
        current += 1
        done.transactions += 1
        let count = Int.random(in: 1...3, using: &random)
        var chosen = Set<[UInt8]>()
        while chosen.count < count { chosen.insert(keys.randomElement(using: &random)!) }
        for (sub, key) in chosen.sorted(by: { $0.lexicographicallyPrecedes($1) }).enumerated() {
            let revision = Revision(main: current, sub: Int64(sub))
            let live = model[key]?.last.map { !$0.tombstone } ?? false
            if Int.random(in: 0..<100, using: &random) < 35 {
                let deleted = builder.tombstone(key, revision)
                #expect(deleted == live, "\(label): tombstone of \(key) said \(deleted), the key is live: \(live)")
                if live {
                    model[key]!.append((revision, true))
                    done.tombstones += 1
                    continue
                }
            }
            builder.put(key, revision)
            model[key, default: []].append((revision, false))
        }
    }

    func compactionStep(_ label: String) {
        if compaction == nil {
            // Often at the current revision, so that keys deleted since the last one go.
            let at = Bool.random(using: &random) ? current : Int64.random(in: floor...current, using: &random)
            compaction = Compaction(atRevision: at, expectedKeep: Self.expectedKeep(model, at: at))
            floor = at
        }
        var running = compaction!
        running.resume = builder.compact(atRevision: running.atRevision, from: running.resume,
                                         keysMax: [1, 2, 5, 30, 60].randomElement(using: &random)!, keep: &running.keep)
        done.batches += 1
        compaction = running
        if running.resume == nil { endCompaction(label) }
    }

    func finishCompaction() {
        while compaction != nil { compactionStep("seed \(seed) finishing") }
    }

    func endCompaction(_ label: String) {
        let finished = compaction!
        compaction = nil
        done.compactions += 1
        #expect(finished.keep == finished.expectedKeep,
                "\(label): compaction at \(finished.atRevision) kept \(finished.keep.sorted()), want \(finished.expectedKeep.sorted())")
        // A key goes when its last generation ended before the compaction.
        for (key, history) in model {
            if let last = history.last, last.tombstone, last.revision.main < finished.atRevision {
                model[key] = nil
                done.keysRemovedByCompaction += 1
            }
        }
        #expect(builder.keyCount == model.count, "\(label): \(builder.keyCount) keys after compaction, the model has \(model.count)")
    }

    /// Per key, the newest revision at or below `at`, unless it is a tombstone below `at`
    /// (its generation goes).
    static func expectedKeep(_ model: Model, at: Int64) -> Set<Revision> {
        var keep = Set<Revision>()
        for history in model.values {
            guard let newest = history.last(where: { $0.revision.main <= at }) else { continue }
            if !newest.tombstone || newest.revision.main == at { keep.insert(newest.revision) }
        }
        return keep
    }

    func freeze(_ label: String) {
        let version = builder.freeze()
        done.freezes += 1
        version.map.checkStructure()
        checkReads(version, model, floor: floor, current: current, "\(label) fresh version")
        let entry = Frozen(version: version, model: model, floor: floor, current: current)
        if frozen.count < 4 { frozen.append(entry) } else { frozen[Int.random(in: 0..<4, using: &random)] = entry }
    }

    func checkFrozenVersions() {
        for (index, old) in frozen.enumerated() {
            old.version.map.checkStructure()
            checkReads(old.version, old.model, floor: old.floor, current: old.current, "seed \(seed) frozen #\(index) at \(old.current)")
        }
    }

    // MARK: reads against the model

    static func get(_ history: History?, at: Int64) -> (modified: Revision, created: Revision, version: Int64)? {
        guard let history, let position = history.lastIndex(where: { $0.revision.main <= at }),
              !history[position].tombstone else { return nil }
        var start = position
        while start > 0, !history[start - 1].tombstone { start -= 1 }
        return (history[position].revision, history[start].revision, Int64(position - start + 1))
    }

    func modelRange(_ model: Model, _ key: [UInt8], _ end: [UInt8]?, at: Int64) -> [Found] {
        let inRange: ([UInt8]) -> Bool
        if end == nil || end!.isEmpty {
            inRange = { $0 == key }
        } else if end == [0] {
            inRange = { !$0.lexicographicallyPrecedes(key) }
        } else {
            inRange = { !$0.lexicographicallyPrecedes(key) && $0.lexicographicallyPrecedes(end!) }
        }
        return model.keys.filter(inRange).sorted { $0.lexicographicallyPrecedes($1) }.compactMap { k in
            Self.get(model[k], at: at).map { Found(key: k, modified: $0.modified, created: $0.created, version: $0.version) }
        }
    }

    func randomRange() -> ([UInt8], [UInt8]?) {
        let key = keys.randomElement(using: &random)! + (Bool.random(using: &random) ? [] : [0x10])
        switch Int.random(in: 0..<4, using: &random) {
        case 0: return (key, nil)
        case 1: return (key, [0])
        default: return (key, keys.randomElement(using: &random)! + (Bool.random(using: &random) ? [] : [0x80]))
        }
    }

    func checkReads(_ index: some IndexReading, _ model: Model, floor: Int64, current: Int64, _ label: String) {
        for _ in 0..<4 {
            let at = Int64.random(in: floor...max(floor, current), using: &random)
            let key = keys.randomElement(using: &random)!
            let got = index.get(key, atRevision: at).map { Found(key: key, modified: $0.modified, created: $0.created, version: $0.version) }
            let want = Self.get(model[key], at: at).map { Found(key: key, modified: $0.modified, created: $0.created, version: $0.version) }
            #expect(got == want, "\(label): get \(key) at \(at): \(String(describing: got)), want \(String(describing: want))")
            // (A key compaction removes may still be in the model until the compaction ends.)
            let live = model[key]?.last.map { !$0.tombstone } ?? false
            #expect((index.keyIndex(key)?.isLive ?? false) == live, "\(label): keyIndex(\(key)).isLive")

            let (start, end) = randomRange()
            let wantRange = modelRange(model, start, end, at: at)
            let limit = Int.random(in: 1...8, using: &random)
            var up: [Found] = []
            index.forEach(from: start, to: end, atRevision: at) { k, m, c, v in
                up.append(Found(key: k, modified: m, created: c, version: v))
                return up.count < limit
            }
            #expect(up == Array(wantRange.prefix(limit)), "\(label): forEach \(start)..<\(String(describing: end)) at \(at) limit \(limit): \(up), want \(wantRange)")
            var down: [Found] = []
            index.forEachDescending(from: start, to: end, atRevision: at) { k, m, c, v in
                down.append(Found(key: k, modified: m, created: c, version: v))
                return down.count < limit
            }
            #expect(down == Array(wantRange.reversed().prefix(limit)), "\(label): forEachDescending \(start)..<\(String(describing: end)) at \(at) limit \(limit): \(down)")
            #expect(index.count(from: start, to: end, atRevision: at) == wantRange.count, "\(label): count \(start)..<\(String(describing: end)) at \(at)")
        }
    }
}

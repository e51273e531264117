import KeelStorage
import KeelTestSupport
import Testing
@testable import KeelMVCC

/// What a restart restores, an interrupted compaction, and the hashes members compare.
@Suite struct KVStoreRestartTests {
    /// Every range at every readable revision, with the store's revisions: what a reopen must
    /// give back unchanged.
    static func snapshot(_ store: KVStore) -> [String] {
        var lines = ["current \(store.currentRevision) compact \(store.compactRevision)"]
        for revision in max(1, store.compactRevision)...max(1, store.currentRevision) {
            lines.append("\(revision): \(store.range(RangeRequest(key: [0], rangeEnd: [0], revision: revision)))")
        }
        return lines
    }

    /// Applies `count` random writes (and compactions) from `generator` to `store`.
    static func apply(_ count: Int, _ generator: inout RequestGenerator, to fixture: StoreFixture, compacting: Bool = true) throws {
        for _ in 0..<count {
            let current = fixture.store.currentRevision
            switch generator.number(0...19) {
            case 0..<9: _ = try fixture.store.put(generator.put(), applying: fixture.next())
            case 9..<12: _ = try fixture.store.deleteRange(generator.delete(), applying: fixture.next())
            case 12..<19: _ = try fixture.store.txn(generator.txn(current: current, compact: fixture.store.compactRevision), applying: fixture.next())
            default:
                if compacting { _ = try fixture.store.compact(generator.number(0...current), applying: fixture.next()) }
            }
        }
    }

    @Test func reopenRestoresIndexRevisionsAndConsistentIndex() throws {
        let seed = KeelSeed.value()
        print("KVStoreRestartTests.reopen seed \(seed) (replay with KEEL_SEED=\(seed))")
        var generator = RequestGenerator(random: SeededGenerator(seed: seed))
        var options = KVStoreOptions()
        options.commitRowsMax = 5
        let fixture = try StoreFixture(options: options)
        try Self.apply(300, &generator, to: fixture)
        try fixture.store.finishCompaction()
        let before = Self.snapshot(fixture.store)
        let applied = fixture.store.consistentIndex
        #expect(applied.index == 300)
        try fixture.reopen(crash: false)
        #expect(Self.snapshot(fixture.store) == before, "seed \(seed)")
        #expect(fixture.store.consistentIndex == applied && !fixture.store.compactionPending)
        // The next put continues the key's generation with the right version and creation.
        let key = [UInt8]("a".utf8)
        let existing = fixture.get("a")
        let put = try fixture.store.put(PutRequest(key: key, value: [1]), applying: fixture.next())
        #expect(put.events.first?.kv.version == (existing?.version ?? 0) + 1)
        #expect(put.events.first?.kv.createRevision == existing?.createRevision ?? fixture.store.currentRevision)
    }

    @Test func aCrashDuringCompactionIsFinishedAfterReopen() throws {
        let seed = KeelSeed.value()
        print("KVStoreRestartTests.compaction seed \(seed) (replay with KEEL_SEED=\(seed))")
        var options = KVStoreOptions()
        options.commitRowsMax = 2 // the compaction's deletes commit a few at a time
        options.compactionKeysPerStep = 2
        options.compactionRowsPerStep = 3
        let crashed = try StoreFixture(options: options)
        let reference = try StoreFixture(options: options)
        for fixture in [crashed, reference] {
            var generator = RequestGenerator(random: SeededGenerator(seed: seed))
            try Self.apply(200, &generator, to: fixture, compacting: false)
            try fixture.store.flush()
        }
        let target = crashed.store.currentRevision - 10
        for fixture in [crashed, reference] {
            #expect(try fixture.store.compact(target, applying: fixture.next()) == .success(CompactResponse(revision: target + 10)))
            // The compaction's entry is durable (the WAL would replay it otherwise).
            try fixture.store.flush()
        }
        // Part of the rows go (and some of those deletes are committed), then the crash.
        var steps = 0
        while steps < 12, try crashed.store.compactStep() { steps += 1 }
        #expect(crashed.store.compactionPending)
        try crashed.reopen(crash: true)
        #expect(crashed.store.compactRevision == target && crashed.store.compactionPending, "seed \(seed)")
        try crashed.store.finishCompaction()
        try reference.store.finishCompaction()
        #expect(Self.snapshot(crashed.store) == Self.snapshot(reference.store), "seed \(seed)")
        #expect(try Self.rows(crashed) == Self.rows(reference), "seed \(seed)")
        #expect(try crashed.store.hash() == reference.store.hash(), "seed \(seed)")
        try crashed.reopen(crash: false)
        #expect(!crashed.store.compactionPending)
    }

    /// The `key` bucket's committed rows.
    static func rows(_ fixture: StoreFixture) throws -> [[UInt8]] {
        try fixture.store.flush()
        let storage = fixture.database.beginRead()
        defer { storage.end() }
        var rows: [[UInt8]] = []
        storage.scan(KVStoreSchema.keyBucket) { key, value in
            rows.append(Array(key) + Array(value))
            return true
        }
        return rows
    }

    @Test func hashKVAgreesForTheSameHistory() throws {
        let seed = KeelSeed.value()
        print("KVStoreRestartTests.hash seed \(seed) (replay with KEEL_SEED=\(seed))")
        var small = KVStoreOptions()
        small.commitRowsMax = 3
        small.compactionRowsPerStep = 2
        let stores = [try StoreFixture(options: small), try StoreFixture()]
        var generators = [RequestGenerator(random: SeededGenerator(seed: seed)), RequestGenerator(random: SeededGenerator(seed: seed))]
        var other = SeededGenerator(seed: seed &+ 99)
        for _ in 0..<10 {
            for index in stores.indices {
                try Self.apply(30, &generators[index], to: stores[index])
                // Different flush and compaction progress: the hash must not depend on them.
                if Bool.random(using: &other) { try stores[index].store.flush() }
                if Bool.random(using: &other) { try stores[index].store.compactStep() }
            }
            let current = stores[0].store.currentRevision
            for revision in [0, current, Int64.random(in: max(1, stores[0].store.compactRevision)...max(1, current), using: &other)] {
                let hashes = stores.map { $0.store.hashKV(revision) }
                #expect(hashes[0] == hashes[1], "seed \(seed) hashKV(\(revision))")
            }
        }
        for fixture in stores { try fixture.store.finishCompaction() }
        #expect(try stores[0].store.hash() == stores[1].store.hash(), "seed \(seed)")
        // One more different write shows in both hashes.
        let before = stores[0].store.hashKV(0)
        _ = try stores[0].store.put(PutRequest(key: [9], value: [1]), applying: stores[0].next())
        _ = try stores[1].store.put(PutRequest(key: [9], value: [2]), applying: stores[1].next())
        #expect(stores[0].store.hashKV(0) != stores[1].store.hashKV(0))
        #expect(try stores[0].store.hash() != stores[1].store.hash())
        // A hash at an older revision does not change with newer writes.
        if case .success(let old) = before {
            #expect(stores[0].store.hashKV(old.revision).map(\.hash) == .success(old.hash))
        }
        #expect(stores[0].store.hashKV(stores[0].store.currentRevision + 1) == .failure(.futureRevision))
    }
}

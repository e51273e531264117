#if canImport(Glibc)
import Glibc
#endif
@testable import KeelMVCC
import KeelTestSupport
import Testing

/// The persistent B+tree against a dictionary with sorted keys: random sets, removals and
/// scans with small fan-outs (so that a few thousand keys make deep trees that split, merge
/// and refill), frozen versions that must never change afterwards, and the tree's structure
/// checked at every freeze.
@Suite struct PersistentMapTests {
    /// Keys with bytes at both ends of the unsigned order, so that a signed comparison fails.
    static func randomKey(_ random: inout SeededGenerator, space: Int) -> [UInt8] {
        let alphabet: [UInt8] = [0x00, 0x01, 0x61, 0x7F, 0x80, 0xFE, 0xFF]
        let n = Int.random(in: 0..<space, using: &random)
        var key: [UInt8] = []
        var rest = n
        repeat {
            key.append(alphabet[rest % alphabet.count])
            rest /= alphabet.count
        } while rest > 0 && key.count < 6
        return key
    }

    static func sortedKeys(_ model: [[UInt8]: Int]) -> [[UInt8]] {
        model.keys.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The index of the first key in `sorted` not below `key`.
    static func lowerBound(_ sorted: [[UInt8]], _ key: [UInt8]) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle].lexicographicallyPrecedes(key) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    static func check(_ map: PersistentMap<Int>, _ model: [[UInt8]: Int], _ random: inout SeededGenerator,
                      _ label: String) {
        map.checkStructure()
        #expect(map.count == model.count, "\(label): count \(map.count), model \(model.count)")
        var all: [([UInt8], Int)] = []
        map.forEach(from: nil) { all.append(($0, $1)); return true }
        let sorted = sortedKeys(model)
        #expect(all.map(\.0) == sorted && all.map(\.1) == sorted.map { model[$0]! }, "\(label): full scan differs")
        for _ in 0..<20 {
            let key = randomKey(&random, space: 3000)
            #expect(map.get(key) == model[key], "\(label): get \(key)")
            let limit = Int.random(in: 1...40, using: &random)
            var up: [[UInt8]] = []
            map.forEach(from: key) { k, _ in up.append(k); return up.count < limit }
            let start = lowerBound(sorted, key)
            let wantUp = Array(sorted[start...].prefix(limit))
            #expect(up == wantUp, "\(label): ascending from \(key) limit \(limit)")
            var down: [[UInt8]] = []
            map.forEachDescending(below: key) { k, _ in down.append(k); return down.count < limit }
            let wantDown = Array(sorted[..<start].reversed().prefix(limit))
            #expect(down == wantDown, "\(label): descending below \(key) limit \(limit)")
        }
    }

    @Test(arguments: KeelSeed.seeds([11, 12, 13]))
    func randomChangesMatchASortedModel(seed: UInt64) {
        print("PersistentMapTests seed \(seed)")
        var random = SeededGenerator(seed: seed)
        let capacity = [4, 5, 8, 64][Int(seed % 4)]
        let builder = PersistentMapBuilder(PersistentMap<Int>(nodeCapacity: capacity))
        var model: [[UInt8]: Int] = [:]
        var frozen: [(map: PersistentMap<Int>, model: [[UInt8]: Int])] = []
        var grow = true
        for step in 0..<12_000 {
            if step % 2_000 == 0 { grow.toggle() }
            let key = Self.randomKey(&random, space: 3000)
            let roll = Int.random(in: 0..<200, using: &random)
            if roll < (grow ? 100 : 50) {
                let value = Int.random(in: 0..<1_000_000, using: &random)
                let added = builder.set(key, value)
                #expect(added == (model[key] == nil), "seed \(seed) step \(step): set \(key)")
                model[key] = value
            } else if roll < 120 {
                let delta = Int.random(in: 1...9, using: &random)
                let got = builder.modify(key) { value in value += delta; return value }
                if model[key] != nil { model[key]! += delta }
                #expect(got == model[key], "seed \(seed) step \(step): modify \(key)")
            } else if roll < 199 {
                let removed = builder.remove(key)
                #expect(removed == model.removeValue(forKey: key), "seed \(seed) step \(step): remove \(key)")
            } else {
                let version = builder.freeze()
                Self.check(version, model, &random, "seed \(seed) step \(step) capacity \(capacity)")
                if frozen.count < 4 {
                    frozen.append((version, model))
                } else {
                    frozen[Int.random(in: 0..<4, using: &random)] = (version, model)
                }
                // An older version, changed around many times since, still holds what it held.
                let old = frozen[Int.random(in: 0..<frozen.count, using: &random)]
                Self.check(old.map, old.model, &random, "seed \(seed) step \(step) old version")
            }
            #expect(builder.count == model.count)
        }
        Self.check(builder.freeze(), model, &random, "seed \(seed) end")
        for old in frozen { Self.check(old.map, old.model, &random, "seed \(seed) end, old version") }
    }

    @Test func fillAndEmptyInOrderAndInReverse() {
        for capacity in [4, 64] {
            let builder = PersistentMapBuilder(PersistentMap<Int>(nodeCapacity: capacity))
            let keys = (0..<5_000).map { [UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0)] }
            for (index, key) in keys.enumerated() { builder.set(key, index) }
            let full = builder.freeze()
            full.checkStructure()
            #expect(full.count == keys.count)
            for key in keys.reversed() { #expect(builder.remove(key) != nil) }
            let empty = builder.freeze()
            empty.checkStructure()
            #expect(empty.isEmpty && empty.get(keys[0]) == nil)
            // The full version is untouched by emptying its successor.
            full.checkStructure()
            #expect(full.count == keys.count && full.get(keys[4_321]) == 4_321)
        }
    }

    /// A node's search against a plain scan, on keys sharing a prefix (short and long, so both
    /// the in-node prefix word and the byte comparison run) and probes around that prefix:
    /// shorter than it, equal, diverging below or above it, longer.
    @Test func nodeSearchAgreesWithAScanAroundSharedPrefixes() {
        for prefix in [[UInt8](), [7], [7, 0, 9], Array(repeating: 5, count: 8), Array(repeating: 200, count: 13)] {
            let keys = [[1], [1, 0], [2, 255], [3], [3, 3, 3], [200]].map { prefix + $0 }
            let node = PersistentMapKeys(keys)
            node.checkWords()
            var probes: [[UInt8]] = keys + [prefix, prefix + [0], prefix + [255, 255], [], [0], [255]]
            for cut in 0..<prefix.count {
                probes.append(Array(prefix[..<cut]))
                probes.append(Array(prefix[..<cut]) + [prefix[cut] &- 1])
                probes.append(Array(prefix[..<cut]) + [prefix[cut] &+ 1])
            }
            for probe in probes {
                for upper in [false, true] {
                    let want = keys.filter { upper ? !probe.lexicographicallyPrecedes($0) : $0.lexicographicallyPrecedes(probe) }.count
                    let got = probe.withUnsafeBufferPointer { node.search($0, upper: upper) }
                    #expect(got == want, "prefix \(prefix), probe \(probe), upper \(upper)")
                }
            }
        }
    }
}

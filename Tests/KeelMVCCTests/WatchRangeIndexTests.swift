import Testing
@testable import KeelMVCC

/// The range index against the naive scan it replaces: every range held, tested with
/// `WatchKeyRange.contains`.
@Suite struct WatchRangeIndexTests {
    struct Held {
        let serial: Int64
        let range: WatchKeyRange
        let slot: Int
    }

    /// A short key over a few bytes, so ranges overlap, nest, touch and share starts; includes
    /// the empty key, single bytes, 0x00 and 0xff (the edges of the byte order).
    static func randomKey(_ random: inout WatchTestRandom) -> [UInt8] {
        let alphabet: [UInt8] = [0x00, 0x01, 0x61, 0x62, 0x63, 0xff]
        return (0..<Int.random(in: 0...3, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
    }

    static func randomRange(_ random: inout WatchTestRandom) -> WatchKeyRange {
        let key = randomKey(&random)
        let end: [UInt8] = switch Int.random(in: 0..<10, using: &random) {
        case 0..<2: [0]                                       // to the end of the key space
        case 2: key + [0]                                     // the key alone, as a range
        case 3 where !key.isEmpty && key.last! < 0xff:        // its prefix
            key.dropLast() + [key.last! + 1]
        default: randomKey(&random)                           // anything, empty ranges too
        }
        return WatchKeyRange(key: key, end: end)
    }

    /// What the index must answer: the naive scan, ordered by range start, then serial.
    static func naive(_ held: [Held], containing key: [UInt8]) -> [Int64] {
        held.filter { $0.range.contains(key) }.sorted(by: before).map(\.serial)
    }

    @Test func lookupsMatchTheNaiveScan() {
        for seed in KeelSeed.seeds(count: 5) {
            print("WatchRangeIndexTests seed \(seed) (replay with KEEL_SEED=\(seed))")
            var random = WatchTestRandom(seed: seed)
            var index = WatchRangeIndex<Int64>()
            var held: [Held] = []
            var nextSerial: Int64 = 1
            var failures = 0
            for step in 0..<3_000 where failures < 5 {
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<4 where held.count < 300:
                    let range = Self.randomRange(&random)
                    let slot = index.insert(nextSerial, range: range, serial: nextSerial)
                    held.append(Held(serial: nextSerial, range: range, slot: slot))
                    nextSerial += 1
                case 0..<4, 4..<6:
                    guard !held.isEmpty else { continue }
                    let gone = held.remove(at: Int.random(in: 0..<held.count, using: &random))
                    let removed = index.remove(slot: gone.slot)
                    if removed != gone.serial { failures += 1 }
                    #expect(removed == gone.serial, "seed \(seed) step \(step): slot \(gone.slot) held \(removed)")
                default:
                    let key = Self.randomKey(&random)
                    var found: [Int64] = []
                    index.forEach(containing: key) { found.append($0) }
                    let expected = Self.naive(held, containing: key)
                    if found != expected { failures += 1 }
                    #expect(found == expected, "seed \(seed) step \(step): key \(key) among \(held.count) ranges")
                }
                #expect(index.count == held.count)
                if step % 97 == 0 { index.checkInvariants() }
            }
            index.checkInvariants()
            #expect(index.elements == held.sorted(by: Self.before).map(\.serial), "seed \(seed): every element in order")
        }
    }

    /// The index's order: range start, then serial.
    static func before(_ a: Held, _ b: Held) -> Bool {
        a.range.key == b.range.key ? a.serial < b.serial : a.range.key.lexicographicallyPrecedes(b.range.key)
    }

    /// Serials come in order and keys often do too (a client watching prefixes it creates in
    /// order): the hashed priorities keep the tree shallow anyway. Deterministic: the same shape
    /// every run.
    @Test func ascendingInsertsKeepTheTreeShallow() {
        var index = WatchRangeIndex<Int>()
        var slots: [Int] = []
        for number in 0..<4_096 {
            let key = Array("prefix/\(String(number + 10_000))/".utf8)
            slots.append(index.insert(number, range: WatchKeyRange(key: key, end: key.dropLast() + [key.last! + 1]), serial: Int64(number)))
        }
        let height = index.checkInvariants()
        #expect(height <= 48, "height \(height) for 4096 ranges")
        // Removing every other one keeps it consistent and frees slots for reuse.
        for slot in slots.enumerated() where slot.offset % 2 == 0 { index.remove(slot: slot.element) }
        index.checkInvariants()
        var found: [Int] = []
        index.forEach(containing: Array("prefix/10001/x".utf8)) { found.append($0) }
        #expect(found == [1])
        found = []
        index.forEach(containing: Array("prefix/10002/x".utf8)) { found.append($0) }
        #expect(found.isEmpty)
        let reused = index.insert(-1, range: WatchKeyRange(key: [], end: [0]), serial: 99_999)
        #expect(slots.contains(reused))
        found = []
        index.forEach(containing: Array("prefix/10003/z".utf8)) { found.append($0) }
        #expect(found == [-1, 3])
    }
}

import Synchronization

/// The published version readers start from, and the txids live readers hold.
///
/// The version (root page, store generation and txid) is one atomic double word, swapped by
/// the writer after each commit: the first word holds the root page in its low 48 bits and
/// the store's generation (which file it lives in) in the high 16. A reader takes a slot with one compare-and-swap (no mutex), writes the txid
/// it is about to use into it, and re-reads the version: only if it is unchanged does it use
/// it. A writer publishes first and scans the slots after, so any reader it misses has seen
/// the newer version — and pages a commit frees are reused only when no slot holds an older
/// txid.
final class ReaderTable: @unchecked Sendable {
    static let slotsMax = 256

    private final class Slot: @unchecked Sendable {
        /// 0 when free, else 1 + the txid the reader holds.
        let value = Atomic<UInt64>(0)
    }

    private let slots = (0..<slotsMax).map { _ in Slot() }
    private let version: Atomic<WordPair>
    private let nextHint = Atomic<Int>(0)

    static let rootBits: UInt64 = 48

    init(root: PageID, generation: UInt64, txid: TxID) {
        version = Atomic(Self.pack(root: root, generation: generation, txid: txid))
    }

    private static func pack(root: PageID, generation: UInt64, txid: TxID) -> WordPair {
        precondition(root.rawValue < 1 << rootBits)
        return WordPair(first: UInt(root.rawValue | (generation & 0xFFFF) << rootBits), second: UInt(txid.rawValue))
    }

    /// The version a new reader would get now.
    var current: (root: PageID, generation: UInt64, txid: TxID) {
        let pair = version.load(ordering: .sequentiallyConsistent)
        let first = UInt64(pair.first)
        return (PageID(first & (1 << Self.rootBits - 1)), first >> Self.rootBits, TxID(UInt64(pair.second)))
    }

    func publish(root: PageID, generation: UInt64, txid: TxID) {
        version.store(Self.pack(root: root, generation: generation, txid: txid), ordering: .sequentiallyConsistent)
    }

    /// Pins the current version in a free slot; returns the slot and the version.
    func pin() -> (slot: Int, root: PageID, generation: UInt64, txid: TxID) {
        var index = nextHint.wrappingAdd(1, ordering: .relaxed).oldValue % Self.slotsMax
        var tries = 0
        while true {
            // Claim with txid 0 (1 in the slot): the oldest possible, so a writer scanning
            // meanwhile reclaims nothing this reader could still need.
            if slots[index].value.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged { break }
            index = (index + 1) % Self.slotsMax
            tries += 1
            precondition(tries < Self.slotsMax * 1000, "more than \(Self.slotsMax) concurrent readers")
        }
        while true {
            let seen = current
            slots[index].value.store(seen.txid.rawValue + 1, ordering: .sequentiallyConsistent)
            let again = current
            if again.txid == seen.txid { return (index, seen.root, seen.generation, seen.txid) }
        }
    }

    func unpin(_ slot: Int) {
        slots[slot].value.store(0, ordering: .sequentiallyConsistent)
    }

    /// The oldest txid a live reader holds, or nil when there is none.
    func oldestPinned() -> TxID? {
        var oldest: UInt64?
        for slot in slots {
            let value = slot.value.load(ordering: .sequentiallyConsistent)
            if value > 0 { oldest = min(oldest ?? .max, value - 1) }
        }
        return oldest.map { TxID($0) }
    }
}

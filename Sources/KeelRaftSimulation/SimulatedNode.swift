import KeelRaft

/// One node slot of the simulated cluster: its disk (which outlives crashes) and, while it is
/// up, its RawNode, the storage the RawNode reads, and the volatile state of the simulated
/// state machine (applied index, state digest, membership).
struct SimulatedNode {
    let slot: Int
    var disk: SimulatedDisk
    var raw: RawNode?
    var storage: MemoryStorage?
    /// A Ready whose writes are on the (slow) disk, and when they complete.
    struct Write {
        let ready: Ready
        let dueMicrotick: UInt64
    }
    var writing: Write?
    /// Bumped at every restart: answers (snapshot reports) for an older incarnation are dropped.
    var incarnation = 0
    /// The tick at which a crashed node comes back.
    var restartTick: Int?
    /// Volatile, rebuilt from the snapshot at restart.
    var appliedIndex = LogIndex.zero
    var state = Digest.empty
    var confState: ConfState
    var role = StateRole.follower
    var term = Term.zero
    var commit = LogIndex.zero
    /// The last term this node was seen leading, so a new leadership is checked once.
    var ledTerm: Term?

    var id: NodeID { NodeID(UInt64(slot + 1)) }
    var isUp: Bool { raw != nil }

    init(slot: Int, confState: ConfState) {
        self.slot = slot
        disk = SimulatedDisk(confState: confState)
        self.confState = confState
    }

    static func slot(of id: NodeID) -> Int { Int(id.rawValue) - 1 }

    /// What a snapshot of this node's state machine at its applied index holds.
    static func snapshotData(index: LogIndex, state: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for value in [index.rawValue, state] {
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return bytes
    }

    /// Reads `snapshotData`; nil when the bytes are not one (then the snapshot is foreign).
    static func decodeSnapshot(_ bytes: [UInt8]) -> (index: LogIndex, state: UInt64)? {
        guard bytes.count == 16 else { return nil }
        var values: [UInt64] = [0, 0]
        for v in 0..<2 {
            for i in 0..<8 { values[v] |= UInt64(bytes[8 * v + i]) << UInt64(8 * i) }
        }
        return (LogIndex(values[0]), values[1])
    }
}

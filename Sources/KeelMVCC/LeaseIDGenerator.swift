/// Makes lease ids for LeaseGrant requests that leave the id to the server (id 0), before the
/// request goes into the log (so every member applies the same id). etcd's shape: the member
/// id's low 16 bits on top, then a 40-bit millisecond clock reading taken once, then a counter;
/// bit 63 stays clear so the id is positive. Deterministic given its inputs.
public struct LeaseIDGenerator: Sendable {
    private let prefix: UInt64
    private var suffix: UInt64
    private static let suffixBits: UInt64 = 47
    private static let suffixMask: UInt64 = (1 << 47) - 1

    /// `startMilliseconds` is a clock reading at start (wall or monotonic: only its low 40 bits
    /// matter), so that ids differ across restarts of the same member.
    public init(memberID: UInt64, startMilliseconds: UInt64) {
        prefix = (memberID & 0xFFFF) << Self.suffixBits
        suffix = (startMilliseconds & ((1 << 40) - 1)) << 7
    }

    /// The next id; never 0.
    public mutating func next() -> LeaseID {
        suffix = (suffix &+ 1) & Self.suffixMask
        if suffix == 0 && prefix == 0 { suffix = 1 }
        let raw = (prefix | suffix) & ~(UInt64(1) << 63)
        return LeaseID(Int64(bitPattern: raw))
    }
}

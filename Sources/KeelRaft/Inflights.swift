/// The appends a leader sent to one follower and has not yet seen acknowledged, oldest first,
/// bounded by a count and a byte total: the pipelining window.
public struct Inflights: Hashable, Sendable {
    /// Last index and byte size of each unacknowledged append.
    private var ring: [(index: LogIndex, bytes: UInt64)] = []
    private var start = 0
    public private(set) var count = 0
    public private(set) var bytes: UInt64 = 0
    public let countMax: Int
    public let bytesMax: UInt64

    public init(countMax: Int, bytesMax: UInt64) {
        precondition(countMax > 0, "the in-flight window needs room for one append")
        self.countMax = countMax
        self.bytesMax = bytesMax
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.count == b.count && a.bytes == b.bytes && a.countMax == b.countMax && a.bytesMax == b.bytesMax
            && (0..<a.count).allSatisfy { a.element($0) == b.element($0) }
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(count); hasher.combine(bytes) }

    private func element(_ i: Int) -> (index: LogIndex, bytes: UInt64) { ring[(start + i) % ring.count] }

    /// Whether another append must wait. One append may pass the byte limit on its own so a
    /// huge entry still goes out.
    public var isFull: Bool { count == countMax || (bytesMax > 0 && bytes >= bytesMax) }

    /// The last index of each in-flight append, oldest first.
    public var indexes: [LogIndex] { (0..<count).map { element($0).index } }

    /// Records an append ending at `index`. Precondition: not full, and `index` after the newest.
    public mutating func add(_ index: LogIndex, bytes size: UInt64) {
        precondition(!isFull, "in-flight window is full")
        precondition(count == 0 || element(count - 1).index < index, "in-flight appends out of order")
        if ring.count < countMax && count == ring.count {
            // Grow lazily: most followers keep only a few appends in flight.
            ring = (0..<count).map { element($0) } + [(index, size)]
            start = 0
        } else {
            ring[(start + count) % ring.count] = (index, size)
        }
        count += 1
        bytes += size
    }

    /// Frees every append ending at or before `index` (acknowledged).
    public mutating func free(through index: LogIndex) {
        while count > 0, element(0).index <= index {
            bytes -= element(0).bytes
            start = (start + 1) % ring.count
            count -= 1
        }
    }

    /// Frees the oldest append (a heartbeat answer shows the follower is alive; the window
    /// must not stay stuck on a lost message).
    public mutating func freeFirst() {
        guard count > 0 else { return }
        free(through: element(0).index)
    }

    public mutating func reset() {
        start = 0
        count = 0
        bytes = 0
    }
}

/// How the simulated network treats a message sent now. Changed by the fault schedule
/// between phases; all zero loss and duplication with a short delay once the cluster is healed.
public struct NetworkConditions: Sendable, Equatable {
    /// Chance that a message is lost on the way, parts per million.
    public var lossPPM: UInt32 = 0
    /// Chance that a message arrives twice (each copy with its own delay), parts per million.
    public var duplicationPPM: UInt32 = 0
    /// One-way delay, drawn uniformly, in microticks (see `SimulationClock`).
    public var delayMinMicroticks: UInt64 = 1
    public var delayMaxMicroticks: UInt64 = 4
    /// Chance that a message is held back far longer than the others (up to
    /// `straggleMaxMicroticks`), which reorders it behind many later messages.
    public var stragglePPM: UInt32 = 0
    public var straggleMaxMicroticks: UInt64 = 0

    public init() {}

    /// A network with no faults and a short delay: what the liveness phase runs on.
    public static var healed: NetworkConditions { NetworkConditions() }
}

/// Which links deliver. `blocked[from][to]` drops every message on that link, both when it is
/// sent and when it would arrive; a partition that heals does not resurrect what it dropped.
public struct Partition: Sendable, Equatable, CustomStringConvertible {
    public private(set) var blocked: [[Bool]]

    public init(nodeCount: Int) {
        blocked = Array(repeating: Array(repeating: false, count: nodeCount), count: nodeCount)
    }

    public var nodeCount: Int { blocked.count }

    public var isHealed: Bool { !blocked.contains { $0.contains(true) } }

    public func delivers(from: Int, to: Int) -> Bool { !blocked[from][to] }

    public mutating func block(from: Int, to: Int) {
        precondition(from != to, "a node is never partitioned from itself")
        blocked[from][to] = true
    }

    /// Cuts every link between `side` and the other nodes, both ways.
    public static func symmetric(nodeCount: Int, side: [Int]) -> Partition {
        var partition = Partition(nodeCount: nodeCount)
        for a in side {
            for b in 0..<nodeCount where !side.contains(b) {
                partition.block(from: a, to: b)
                partition.block(from: b, to: a)
            }
        }
        return partition
    }

    /// Cuts only the links from `senders` to the other nodes: they still hear everyone.
    public static func asymmetric(nodeCount: Int, senders: [Int]) -> Partition {
        var partition = Partition(nodeCount: nodeCount)
        for a in senders {
            for b in 0..<nodeCount where !senders.contains(b) { partition.block(from: a, to: b) }
        }
        return partition
    }

    public var description: String {
        guard !isHealed else { return "healed" }
        var cuts: [String] = []
        for from in 0..<nodeCount {
            for to in 0..<nodeCount where blocked[from][to] {
                if !blocked[to][from] {
                    cuts.append("\(from)->\(to)")
                } else if from < to {
                    cuts.append("\(from)<->\(to)")
                }
            }
        }
        return cuts.joined(separator: " ")
    }
}

/// A message on the wire: when it arrives, and a sequence number that breaks ties so that two
/// messages due at the same microtick always arrive in the order they were sent.
public struct InFlightMessage<Message> {
    public let arrivalMicrotick: UInt64
    public let sequence: UInt64
    public let from: Int
    public let to: Int
    public let message: Message
}

/// The simulated network: a priority queue of messages ordered by (arrival, sequence). Losses,
/// duplicates, delays and partitions are all decided from the generator it is given, so the
/// order of deliveries is a function of the seed alone.
public struct SimulatedNetwork<Message> {
    public var conditions = NetworkConditions()
    public var partition: Partition
    /// A bound on messages on the wire; a send beyond it is dropped as if lost (and counted),
    /// so a runaway sender cannot exhaust memory.
    public let inFlightMessagesMax: Int
    private var heap: [InFlightMessage<Message>] = []
    private var nextSequence: UInt64 = 0
    public private(set) var sentCount: UInt64 = 0
    public private(set) var droppedCount: UInt64 = 0
    public private(set) var duplicatedCount: UInt64 = 0
    public private(set) var deliveredCount: UInt64 = 0

    public init(nodeCount: Int, inFlightMessagesMax: Int = 100_000) {
        partition = Partition(nodeCount: nodeCount)
        self.inFlightMessagesMax = inFlightMessagesMax
    }

    public var inFlightCount: Int { heap.count }

    /// Puts `message` on the wire at `now`. Returns false when it was dropped at once (a cut
    /// link, a loss, or a full queue): the sender learns nothing, as on a real network.
    @discardableResult
    public mutating func send(_ message: Message, from: Int, to: Int, now: UInt64,
                              random: inout SimulationRandom) -> Bool {
        sentCount += 1
        guard partition.delivers(from: from, to: to), !random.chance(ppm: conditions.lossPPM),
              heap.count < inFlightMessagesMax else {
            droppedCount += 1
            return false
        }
        enqueue(message, from: from, to: to, now: now, random: &random)
        if random.chance(ppm: conditions.duplicationPPM) && heap.count < inFlightMessagesMax {
            duplicatedCount += 1
            enqueue(message, from: from, to: to, now: now, random: &random)
        }
        return true
    }

    private mutating func enqueue(_ message: Message, from: Int, to: Int, now: UInt64,
                                  random: inout SimulationRandom) {
        let low = conditions.delayMinMicroticks
        let high = max(low, conditions.delayMaxMicroticks)
        var delay = low + random.below(high - low + 1)
        if conditions.straggleMaxMicroticks > high && random.chance(ppm: conditions.stragglePPM) {
            delay = high + random.below(conditions.straggleMaxMicroticks - high + 1)
        }
        push(InFlightMessage(arrivalMicrotick: now + max(delay, 1), sequence: nextSequence,
                             from: from, to: to, message: message))
        nextSequence += 1
    }

    /// The earliest message due at or before `now`, removed from the wire, with whether it
    /// arrives (false: its link is cut now, so it is lost); nil when none is due.
    public mutating func popDue(now: UInt64) -> (message: InFlightMessage<Message>, arrives: Bool)? {
        guard let first = heap.first, first.arrivalMicrotick <= now else { return nil }
        let message = pop()
        if partition.delivers(from: message.from, to: message.to) {
            deliveredCount += 1
            return (message, true)
        }
        droppedCount += 1
        return (message, false)
    }

    /// Counts a message that arrived at a node that is down.
    public mutating func countDroppedAtDestination() {
        droppedCount += 1
        deliveredCount -= 1
    }

    /// When the next message is due, nil when none is on the wire.
    public var nextArrivalMicrotick: UInt64? { heap.first?.arrivalMicrotick }

    // MARK: Binary heap on (arrivalMicrotick, sequence)

    private static func precedes(_ a: InFlightMessage<Message>, _ b: InFlightMessage<Message>) -> Bool {
        a.arrivalMicrotick != b.arrivalMicrotick ? a.arrivalMicrotick < b.arrivalMicrotick : a.sequence < b.sequence
    }

    private mutating func push(_ element: InFlightMessage<Message>) {
        heap.append(element)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func pop() -> InFlightMessage<Message> {
        precondition(!heap.isEmpty)
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { break }
            var smallest = left
            if left + 1 < heap.count && Self.precedes(heap[left + 1], heap[left]) { smallest = left + 1 }
            guard Self.precedes(heap[smallest], heap[parent]) else { break }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
        return top
    }
}

import KeelRaft

/// Times AppendEntries round trips for the `replication` stage: when an append carrying
/// entries through index i leaves for a follower, and when that follower first acknowledges
/// an index at or above i. A rejection forgets what was outstanding for that follower (raft
/// then probes and resends). Raft-loop thread only.
struct ReplicationTimer {
    /// Appends outstanding per follower that are remembered; older ones are forgotten.
    static let outstandingMax = 1024
    private var outstanding: [NodeID: [(index: UInt64, sent: UInt64)]] = [:]

    /// Notes `message` leaving at `now` (`MonotonicClock`), if it is an append with entries.
    mutating func sent(_ message: Message, now: UInt64) {
        guard message.type == .append, let last = message.entries.last else { return }
        var queue = outstanding[message.to, default: []]
        if queue.count >= Self.outstandingMax { queue.removeFirst(queue.count - Self.outstandingMax + 1) }
        queue.append((last.index.rawValue, now))
        outstanding[message.to] = queue
    }

    /// The round trips, in nanoseconds, that `message` arriving at `now` completes.
    mutating func received(_ message: Message, now: UInt64) -> [UInt64] {
        guard message.type == .appendResponse, let queue = outstanding[message.from], !queue.isEmpty else { return [] }
        if message.reject {
            outstanding[message.from] = nil
            return []
        }
        let acknowledged = queue.prefix { $0.index <= message.index.rawValue }
        outstanding[message.from] = Array(queue.dropFirst(acknowledged.count))
        return acknowledged.map { now >= $0.sent ? now - $0.sent : 0 }
    }
}

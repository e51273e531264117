/// How the leader currently sends to one follower.
public enum ProgressState: String, Hashable, Sendable {
    /// Unknown match: one append at a time, each waiting for its answer.
    case probe = "StateProbe"
    /// Match known: appends stream out optimistically within the in-flight window.
    case replicate = "StateReplicate"
    /// The follower needs a snapshot; nothing else goes out until it reports back.
    case snapshot = "StateSnapshot"
}

/// The leader's view of one follower's log.
///
/// Invariant: `match < next`. In `replicate`, `next - 1` is the last index sent.
public struct Progress: Hashable, Sendable {
    /// The highest index known to be in the follower's log.
    public internal(set) var match: LogIndex
    /// The next index to send.
    public internal(set) var next: LogIndex
    public internal(set) var state: ProgressState = .probe
    /// In `snapshot`: the index of the snapshot sent.
    public internal(set) var pendingSnapshot: LogIndex = .zero
    /// Heard from since the last check-quorum round.
    public internal(set) var recentActive = false
    /// In `probe`: an append is out, wait for its answer (or a heartbeat answer).
    public internal(set) var probeSent = false
    /// The highest commit index sent to the follower; an empty append only to repeat it is
    /// not worth a message.
    public internal(set) var sentCommit: LogIndex = .zero
    public internal(set) var inflights: Inflights
    public internal(set) var isLearner: Bool

    init(next: LogIndex, inflights: Inflights, isLearner: Bool) {
        match = .zero
        self.next = next
        self.inflights = inflights
        self.isLearner = isLearner
    }

    mutating func resetState(_ newState: ProgressState) {
        probeSent = false
        pendingSnapshot = .zero
        state = newState
        inflights.reset()
    }

    mutating func becomeProbe() {
        // After a snapshot, the follower has at least the snapshot: probe from there.
        let floor = state == .snapshot ? max(match, pendingSnapshot) : match
        resetState(.probe)
        next = floor.next
    }

    mutating func becomeReplicate() {
        resetState(.replicate)
        next = match.next
    }

    mutating func becomeSnapshot(_ index: LogIndex) {
        resetState(.snapshot)
        pendingSnapshot = index
    }

    /// Records that the follower has everything through `index`; returns whether `match`
    /// moved (an older acknowledgement changes nothing).
    mutating func maybeUpdate(_ index: LogIndex) -> Bool {
        var updated = false
        if match < index {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index.next)
        return updated
    }

    /// Records an append of `entryCount` entries (`bytes` in total) ending at `last`.
    mutating func sentAppend(entryCount: Int, bytes: UInt64, last: LogIndex) {
        switch state {
        case .replicate:
            guard entryCount > 0 else { return }
            next = last.next
            inflights.add(last, bytes: bytes)
        case .probe:
            probeSent = true
        case .snapshot:
            preconditionFailure("append sent to a follower waiting for a snapshot")
        }
    }

    /// Handles a rejected append at `rejected`; `hint` is the highest index where the logs may
    /// still match. Returns false for a stale rejection (nothing changes).
    mutating func maybeDecrease(rejected: LogIndex, hint: LogIndex) -> Bool {
        if state == .replicate {
            // Stale: answers an append the follower evidently accepted later.
            guard rejected > match else { return false }
            next = match.next
            return true
        }
        // In probe only the last append sent is of interest.
        guard next.previous == rejected else { return false }
        next = max(min(rejected, hint.next), match.next)
        probeSent = false
        return true
    }

    /// Whether sending to this follower must wait.
    public var isPaused: Bool {
        switch state {
        case .probe: probeSent
        case .replicate: inflights.isFull
        case .snapshot: true
        }
    }
}

import KeelMVCC
import Synchronization

/// Keeps the lessor's primary role in step with raft leadership, as etcd does.
///
/// Losing leadership demotes the lessor at once (called from the raft loop's thread): a former
/// leader must stop counting down and proposing revokes. Gaining it only records the leader's
/// last log index; the lessor is promoted later (`promoteIfDue`, by the expiry loop) once the
/// apply loop has applied through that index, so every grant, revoke and checkpoint of earlier
/// terms is in the lessor when the countdowns start. etcd promotes at the same point: when it
/// applies the new leader's empty entry. Promotion extends every lease by the election timeout,
/// so leases the old leader was keeping alive do not expire before their clients find the new one.
final class LeaseExpiryLeadership: Sendable {
    let lessor: Lessor
    let extendNanoseconds: Int64
    /// The log index to apply through before promoting; nil when not leader or promoted.
    private let promoteAfterIndex = Mutex<UInt64?>(nil)

    init(lessor: Lessor, extendNanoseconds: Int64) {
        precondition(extendNanoseconds >= 0, "a promotion never shortens a lease")
        self.lessor = lessor
        self.extendNanoseconds = extendNanoseconds
    }

    /// Raft's hook: this member became leader (with its log's last index then) or stopped being it.
    func leadershipChanged(isLeader: Bool, lastIndex: UInt64) {
        // Under the lock so that a promotion in progress is not undone in the wrong order.
        promoteAfterIndex.withLock { pending in
            if isLeader {
                pending = lastIndex
            } else {
                pending = nil
                lessor.demote()
            }
        }
    }

    /// Promotes the lessor if this member leads and has applied through its election index.
    /// Returns whether it promoted now.
    @discardableResult
    func promoteIfDue(appliedIndex: UInt64, nowNanoseconds now: Int64) -> Bool {
        promoteAfterIndex.withLock { pending in
            guard let index = pending, appliedIndex >= index else { return false }
            pending = nil
            lessor.promote(nowNanoseconds: now, extendNanoseconds: extendNanoseconds)
            return true
        }
    }

    /// Whether leadership was gained and the promotion still waits for the apply loop.
    var promotionPending: Bool { promoteAfterIndex.withLock { $0 != nil } }
}

import KeelAPI
import KeelIO
import KeelMVCC
import NIOCore
import Synchronization

/// The leader's lease timer, as etcd's lessor run loop: every half second it promotes the
/// lessor if leadership was gained and the earlier terms are applied, then proposes a
/// LeaseRevoke through raft for each expired lease (so every member deletes the lease's keys
/// at the same revision) and LeaseCheckpoint entries for the remaining TTLs that are due.
///
/// Rates: at most half of `revokeRatePerSecond` revokes per turn (etcd's limit), and at most
/// `checkpointBatchesPerTurnMax` checkpoint entries of `checkpointBatchMax` leases each. A
/// revoke that gets lost is handed out again by the lessor after its retry time.
final class LeaseExpiryLoop: Sendable {
    static let intervalMilliseconds: Int64 = 500
    /// Leases per LeaseCheckpoint entry (etcd's maxLeaseCheckpointBatchSize).
    static let checkpointBatchMax = 1000
    static let checkpointBatchesPerTurnMax = 4

    private let node: KeelNode
    private let task = Mutex<RepeatedTask?>(nil)

    init(node: KeelNode) {
        self.node = node
    }

    /// Runs a first turn at once (a fresh one-member node is leader before it serves, so its
    /// lessor is promoted before the first client call), then every `intervalMilliseconds`.
    func start(on eventLoop: any EventLoop) {
        let scheduled = eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(Self.intervalMilliseconds)) {
            [self] _ in turn(on: eventLoop)
        }
        task.withLock { $0 = scheduled }
    }

    func stop() { task.withLock { $0?.cancel() } }

    private func turn(on eventLoop: any EventLoop) {
        let now = Int64(MonotonicClock.nanoseconds())
        let applied = node.apply.appliedIndex.load(ordering: .relaxed)
        if node.leaseLeadership.promoteIfDue(appliedIndex: applied, nowNanoseconds: now) {
            node.logger.info("promoted lessor", .int("leases", node.keySpace.lessor.count))
        }
        let lessor = node.keySpace.lessor
        guard lessor.isPrimary, node.raft.state.leader.load(ordering: .relaxed) == node.memberID else { return }
        let revokeMax = max(1, lessor.config.revokeRatePerSecond * Int(Self.intervalMilliseconds) / 1000)
        for id in lessor.expiredLeases(nowNanoseconds: now, max: revokeMax) { revoke(id, on: eventLoop) }
        for _ in 0..<Self.checkpointBatchesPerTurnMax {
            let due = lessor.dueCheckpoints(nowNanoseconds: now, max: Self.checkpointBatchMax)
            if due.isEmpty { break }
            node.proposeCheckpoints(due, on: eventLoop)
        }
    }

    private func revoke(_ id: LeaseID, on eventLoop: any EventLoop) {
        var request = Etcdserverpb_LeaseRevokeRequest()
        request.id = id.rawValue
        node.propose(.leaseRevoke(request), on: eventLoop).whenSuccess { [node] outcome in
            switch outcome {
            case .leaseRevoked: break
            // Revoked by a client meanwhile: nothing left to do.
            case .failed(.leaseNotFound): break
            // The lessor hands the lease out again after its retry time.
            case .failed(let error):
                node.logger.warn("failed to revoke expired lease", .string("lease-id", hex(UInt64(bitPattern: id.rawValue))),
                                 .string("error", error.message))
            default: preconditionFailure("a lease revoke was applied as \(outcome)")
            }
        }
    }
}

extension KeelNode {
    /// Proposes remaining TTLs (or a renewal's clearing checkpoint) through raft; a lost one
    /// only means a later leader restarts that lease from an older, longer remainder.
    func proposeCheckpoints(_ checkpoints: [LeaseCheckpoint], on eventLoop: any EventLoop) {
        var request = Etcdserverpb_LeaseCheckpointRequest()
        request.checkpoints = checkpoints.map { checkpoint in
            var wire = Etcdserverpb_LeaseCheckpoint()
            wire.id = checkpoint.id.rawValue
            wire.remainingTtl = checkpoint.remainingTTLSeconds
            return wire
        }
        propose(.leaseCheckpoint(request), on: eventLoop).whenSuccess { [logger] outcome in
            if case .failed(let error) = outcome {
                logger.warn("failed to checkpoint leases", .int("leases", checkpoints.count), .string("error", error.message))
            }
        }
    }
}

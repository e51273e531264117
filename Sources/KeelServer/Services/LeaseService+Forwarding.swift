import Foundation
import KeelAPI
import KeelIO
import KeelMVCC
import KeelRaft
import NIOCore

/// Keepalives and TimeToLive calls that reach a follower go to the leader as peer requests
/// (`leaseRenew`, `leaseTimeToLive`: LeasePeerPayloads.swift), as etcd forwards them over peer
/// HTTP (`/leases`, `/leases/internal`): only the leader's lessor counts time, so only it can
/// restart a countdown or say how much of one is left.
///
/// The follower asks the leader it knows now; while there is none, or the one asked cannot
/// answer (its connection is lost, it is no longer leader, its lessor is not promoted yet),
/// it asks again every `renewRetryMilliseconds` until the request timeout, then fails with
/// etcd's "no leader" (no leader known then) or "request timed out", as etcd's LeaseRenew does.
extension LeaseService {
    // MARK: The leader's side

    /// Renews a lease for a follower's keepalive on this member's lessor.
    func serveRenew(_ payload: [UInt8], on eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        let id: LeaseID
        do { id = try LeasePeerRenewal.readRequest(payload) } catch { return eventLoop.makeFailedFuture(error) }
        let first = renewal(id, on: eventLoop)
        guard first == .notFound else { return eventLoop.makeSucceededFuture(first.encoded) }
        // The follower may have applied the grant before this member did: after a read index
        // everything committed is applied here (etcd's handler waits for its applied index).
        return node.readIndex(on: eventLoop).map { outcome in
            guard case .applied = outcome else { return LeasePeerRenewal.retry.encoded }
            return renewal(id, on: eventLoop).encoded
        }
    }

    /// A lease's remaining time on this member's lessor, for a follower's TimeToLive.
    func serveTimeToLive(_ payload: [UInt8], on eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        let request: (id: LeaseID, keys: Bool)
        do { request = try LeasePeerTimeToLive.readRequest(payload) } catch { return eventLoop.makeFailedFuture(error) }
        return node.readIndex(on: eventLoop).map { outcome in
            // A member that is not the promoted leader counts no time: the caller asks again.
            guard case .applied = outcome, node.keySpace.lessor.isPrimary else { return LeasePeerTimeToLive.retry.encoded }
            let now = Int64(MonotonicClock.nanoseconds())
            switch node.keySpace.lessor.timeToLive(request.id, nowNanoseconds: now, withKeys: request.keys) {
            case .success(let status): return LeasePeerTimeToLive.found(.init(status)).encoded
            case .failure: return LeasePeerTimeToLive.notFound.encoded
            }
        }
    }

    /// One renewal on the local lessor, as a forwarded keepalive's answer.
    private func renewal(_ id: LeaseID, on eventLoop: any EventLoop) -> LeasePeerRenewal {
        switch node.keySpace.lessor.renew(id, nowNanoseconds: Int64(MonotonicClock.nanoseconds())) {
        case .renewed(let ttlSeconds, let clear):
            if let clear { node.proposeCheckpoints([clear], on: eventLoop) }
            return .renewed(ttlSeconds: ttlSeconds)
        case .refused(.leaseNotFound): return .notFound
        case .refused(let refusal): preconditionFailure("a lease renewal refused with \(refusal)")
        case .notPrimary, .expired: return .retry
        }
    }

    // MARK: The follower's side

    /// The leader this member would forward to now: nil when there is none known, or when this
    /// member leads (or has no peers) and answers itself.
    var forwardingTarget: (leader: NodeID, peers: PeerTransport)? {
        let leader = NodeID(node.raft.state.leader.load(ordering: .relaxed))
        guard let peers = node.peers, leader != .none, leader.rawValue != node.memberID else { return nil }
        return (leader, peers)
    }

    /// One forwarded keepalive: the leader's answer, or `retry` when it gave none.
    func forwardRenew(_ id: LeaseID, to leader: NodeID, through peers: PeerTransport, until deadline: NIODeadline,
                      on eventLoop: any EventLoop) -> EventLoopFuture<LeasePeerRenewal> {
        peers.request(to: leader, method: .leaseRenew, payload: LeasePeerRenewal.request(id), timeout: Self.remaining(until: deadline))
            .flatMapThrowing { payload in try LeasePeerRenewal(decoding: payload) }
            .recover { error in
                logForwardingFailure("lease keepalive", id: id, leader: leader, error: error)
                return .retry
            }
            .hop(to: eventLoop)
    }

    /// LeaseTimeToLive on any member: the leader answers from its lessor after a read index;
    /// a follower asks the leader (see the extension's contract). A lease that does not exist
    /// is answered with TTL -1, as etcd answers it.
    func timeToLiveOnLeader(_ request: Etcdserverpb_LeaseTimeToLiveRequest, until deadline: NIODeadline,
                            on eventLoop: any EventLoop) -> EventLoopFuture<Etcdserverpb_LeaseTimeToLiveResponse> {
        if node.stopped.load(ordering: .relaxed) { return eventLoop.makeFailedFuture(EtcdError.stopped.status) }
        let leader = node.raft.state.leader.load(ordering: .relaxed)
        guard node.peers != nil, leader != node.memberID else {
            return node.readIndex(on: eventLoop).flatMapThrowing { outcome in
                guard case .applied = outcome else { throw node.readRefusal.status }
                return timeToLive(request)
            }
        }
        guard NIODeadline.now() < deadline else {
            return eventLoop.makeFailedFuture((leader == 0 ? EtcdError.noLeader : .timeout).status)
        }
        let again: @Sendable () -> EventLoopFuture<Etcdserverpb_LeaseTimeToLiveResponse> = {
            eventLoop.flatScheduleTask(in: .milliseconds(Self.renewRetryMilliseconds)) {
                timeToLiveOnLeader(request, until: deadline, on: eventLoop)
            }.futureResult
        }
        guard let (leaderID, peers) = forwardingTarget else { return again() }
        let id = LeaseID(request.id)
        return peers.request(to: leaderID, method: .leaseTimeToLive, payload: LeasePeerTimeToLive.request(id, keys: request.keys),
                             timeout: Self.remaining(until: deadline))
            .flatMapThrowing { payload in try LeasePeerTimeToLive(decoding: payload) }
            .recover { error in
                logForwardingFailure("lease time-to-live", id: id, leader: leaderID, error: error)
                return .retry
            }
            .hop(to: eventLoop)
            .flatMap { answer in
                var response = Etcdserverpb_LeaseTimeToLiveResponse()
                response.id = request.id
                response.header = node.header()
                switch answer {
                case .found(let status):
                    response.ttl = status.remainingTTLSeconds
                    response.grantedTtl = status.grantedTTLSeconds
                    response.keys = status.keys.map { Data($0) }
                case .notFound: response.ttl = -1
                case .retry: return again()
                }
                return eventLoop.makeSucceededFuture(response)
            }
    }

    private static func remaining(until deadline: NIODeadline) -> TimeAmount {
        max(deadline - NIODeadline.now(), .milliseconds(1))
    }

    private func logForwardingFailure(_ what: String, id: LeaseID, leader: NodeID, error: any Error) {
        node.logger.log(.debug, "failed to forward a \(what) to the leader", [
            .string("lease-id", String(id.rawValue, radix: 16)), .string("leader-id", hex(leader.rawValue)), .error(error)], caller: "lease")
    }
}

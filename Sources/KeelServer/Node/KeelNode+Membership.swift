#if canImport(Glibc)
import Glibc
#endif
import KeelAPI
import KeelIO
import KeelRaft
import NIOCore

extension KeelNode {
    /// Proposes a membership change through raft and completes once it is applied here: with
    /// the members then (`.members`), or etcd's error (refused at apply, no leader, timeout).
    func proposeMemberChange(_ kind: ConfChange.Kind, member: Etcdserverpb_Member, isPromote: Bool = false,
                             on eventLoop: any EventLoop) -> EventLoopFuture<AppliedOutcome> {
        let promise = eventLoop.makePromise(of: AppliedOutcome.self)
        guard !stopped.load(ordering: .relaxed) else {
            promise.succeed(.failed(.stopped))
            return promise.futureResult
        }
        let id = requestIDs.make()
        let change = MemberChange(kind: kind, requestID: id, isPromote: isPromote, member: member)
        proposals.register(id, deadline: MonotonicClock.nanoseconds() + options.requestTimeoutNanoseconds, on: eventLoop) { outcome in
            promise.succeed(outcome)
        }
        send(.proposeConfChange(change.confChange, id: id), waitingIn: proposals, id: id, refused: .failed(.stopped))
        return promise.futureResult
    }

    /// raft's status as the raft loop sees it now (the leader's progress of every member);
    /// nil once the loop has stopped.
    func raftStatus(on eventLoop: any EventLoop) -> EventLoopFuture<Status?> {
        let promise = eventLoop.makePromise(of: Status?.self)
        if !raft.mailbox.post(.status({ status in promise.succeed(status) })) { promise.succeed(nil) }
        return promise.futureResult
    }

    /// Whether this member is a learner now.
    var isLearner: Bool { membership.membership.member(id: memberID)?.isLearner ?? false }

    /// Publishes this member's name and client URLs through raft (etcd's publish), so every
    /// member's MemberList shows them, and waits until it is applied here. Retries after a
    /// refusal or a timeout until it succeeds or the node stops; the entry is idempotent, so a
    /// member publishes again at every start. Not from an event-loop thread.
    func publish(on eventLoop: any EventLoop) {
        var attributes = Etcdserverpb_Member()
        attributes.id = memberID
        attributes.name = name
        attributes.clientUrls = options.clientURLs
        while !stopped.load(ordering: .relaxed) && !membership.isRemoved {
            switch try? propose(.memberAttributes(attributes), on: eventLoop).wait() {
            case .members:
                logger.info("published local member to cluster through raft", .string("local-member-id", hex(memberID)),
                            .string("cluster-id", hex(clusterID)), .strings("client-urls", options.clientURLs))
                return
            case .failed(.memberNotFound):
                return  // removed meanwhile
            default:
                logger.warn("failed to publish local member to cluster through raft; retrying",
                            .string("local-member-id", hex(memberID)))
                usleep(100_000)
            }
        }
    }

    /// Calls `body` once this member applied its own removal from the cluster (at once if it
    /// has), on the apply loop's thread: it must return quickly.
    public func whenRemoved(_ body: @escaping @Sendable () -> Void) { membership.onRemoved(body) }
}

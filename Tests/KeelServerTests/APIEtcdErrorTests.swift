import KeelAPI
import KeelMVCC
import Testing
@testable import KeelServer

/// etcd's codes and messages, and the mapping of the key space's refusals to them.
@Suite struct APIEtcdErrorTests {
    @Test(arguments: [
        (MVCCRefusal.compacted(compactRevision: 5), GRPCStatus(.outOfRange, "etcdserver: mvcc: required revision has been compacted")),
        (.futureRevision, GRPCStatus(.outOfRange, "etcdserver: mvcc: required revision is a future revision")),
        (.duplicateKey, GRPCStatus(.invalidArgument, "etcdserver: duplicate key given in txn request")),
        (.leaseNotFound(LeaseID(3)), GRPCStatus(.notFound, "etcdserver: requested lease not found")),
        (.leaseExists(LeaseID(3)), GRPCStatus(.failedPrecondition, "etcdserver: lease already exists")),
        (.leaseTTLTooLarge, GRPCStatus(.outOfRange, "etcdserver: too large lease TTL")),
        (.keyNotFound, GRPCStatus(.invalidArgument, "etcdserver: key not found")),
    ])
    func refusals(refusal: MVCCRefusal, status: GRPCStatus) {
        #expect(EtcdError(refusal).status == status)
    }

    @Test(arguments: [
        (EtcdError.requestTooLarge, GRPCStatus(.invalidArgument, "etcdserver: request is too large")),
        (.noSpace, GRPCStatus(.resourceExhausted, "etcdserver: mvcc: database space exceeded")),
        (.timeout, GRPCStatus(.unavailable, "etcdserver: request timed out")),
        (.noLeader, GRPCStatus(.unavailable, "etcdserver: no leader")),
        (.notLeader, GRPCStatus(.failedPrecondition, "etcdserver: not leader")),
        (.leaderChanged, GRPCStatus(.unavailable, "etcdserver: leader changed")),
        (.stopped, GRPCStatus(.unavailable, "etcdserver: server stopped")),
        (.notCapable, GRPCStatus(.unavailable, "etcdserver: not capable")),
        (.memberNotFound, GRPCStatus(.notFound, "etcdserver: member not found")),
        (.tooManyOperations, GRPCStatus(.invalidArgument, "etcdserver: too many operations in txn request")),
        (.corrupt, GRPCStatus(.dataLoss, "etcdserver: corrupt cluster")),
        (.invalidAuthToken, GRPCStatus(.unauthenticated, "etcdserver: invalid auth token")),
        (.permissionDenied, GRPCStatus(.permissionDenied, "etcdserver: permission denied")),
        // etcd hands gRPC an error without a status for these: UNKNOWN on the wire.
        (.tooManyRequests, GRPCStatus(.unknown, "etcdserver: too many requests")),
        (.memberNotEnoughStarted, GRPCStatus(.unknown, "etcdserver: re-configuration failed due to not enough started members")),
    ])
    func statuses(error: EtcdError, status: GRPCStatus) {
        #expect(error.status == status)
        #expect(error.description == status.message)
    }

    @Test func everyErrorHasItsOwnEtcdMessage() {
        let messages = EtcdError.allCases.map(\.message)
        #expect(Set(messages).count == messages.count)
        #expect(messages.allSatisfy { $0.hasPrefix("etcdserver: ") })
        #expect(EtcdError.allCases.allSatisfy { $0.code != .ok })
    }

    /// The key space's own messages are etcd's engine messages; the gRPC ones add etcd's prefix
    /// where etcd's table does.
    @Test func refusalMessagesMatchTheEngines() {
        let refusals: [MVCCRefusal] = [.compacted(compactRevision: 1), .futureRevision, .duplicateKey, .leaseNotFound(LeaseID(1)),
                                       .leaseExists(LeaseID(1)), .leaseTTLTooLarge, .keyNotFound]
        for refusal in refusals {
            let message = EtcdError(refusal).message
            #expect(message == refusal.description || message == "etcdserver: " + refusal.description)
        }
    }
}

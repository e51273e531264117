import KeelAPI
import KeelMVCC

/// Every error the node answers a client call with, as etcd 3.5 sends it: its gRPC status code
/// and its message, word for word (etcd's rpctypes table; clients match on the message).
///
/// The API layer is the only place these exist: engines return refusals (`MVCCRefusal`), the
/// node loop returns its own outcomes, and both become an `EtcdError` here.
public enum EtcdError: Error, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    // Request checks (the gRPC layer and the apply loop).
    case emptyKey, keyNotFound, valueProvided, leaseProvided, tooManyOperations, duplicateKey
    /// Refused by etcd 3.6's gRPC layer (etcd 3.5 crashes on an unknown sort target); Keel
    /// refuses as 3.6 does.
    case invalidSortOption
    /// Keel's own: a Txn compare whose result or target the proto does not name (see
    /// `KVRequestValidation.compareRefusal`). etcd has no such error.
    case invalidCompare
    case compacted, futureRevision, noSpace
    // Leases.
    case leaseNotFound, leaseExists, leaseTTLTooLarge
    case watchCanceled
    // Membership.
    case memberExists, peerURLExists, memberNotEnoughStarted, memberBadURLs, memberNotFound
    case memberNotLearner, learnerNotReady, tooManyLearners, clusterIDMismatch
    // Load.
    case requestTooLarge, tooManyRequests
    // Authentication.
    case rootUserNotExist, rootRoleNotExist, userAlreadyExists, userEmpty, userNotFound
    case roleAlreadyExists, roleNotFound, roleEmpty, authFailed, permissionNotGiven, permissionDenied
    case roleNotGranted, permissionNotGranted, authNotEnabled, invalidAuthToken, invalidAuthManagement
    case authOldRevision
    // Raft and the node.
    case noLeader, notLeader, leaderChanged, notCapable, stopped
    case timeout, timeoutDueToLeaderFail, timeoutDueToConnectionLost, timeoutWaitAppliedIndex
    case unhealthy, corrupt, notSupportedForLearner, badLeaderTransferee
    // Downgrades.
    case clusterVersionUnavailable, wrongDowngradeVersionFormat, invalidDowngradeTargetVersion
    case downgradeInProcess, noInflightDowngrade
    // The call itself.
    case canceled, deadlineExceeded

    /// The refusal's status as etcd maps the engine error it stands for.
    public init(_ refusal: MVCCRefusal) {
        switch refusal {
        case .compacted: self = .compacted
        case .futureRevision: self = .futureRevision
        case .duplicateKey: self = .duplicateKey
        case .leaseNotFound: self = .leaseNotFound
        case .leaseExists: self = .leaseExists
        case .leaseTTLTooLarge: self = .leaseTTLTooLarge
        case .keyNotFound: self = .keyNotFound
        }
    }

    public var status: GRPCStatus { GRPCStatus(code, message) }

    public var description: String { message }

    public var code: GRPCStatus.Code { Self.table(self).code }

    public var message: String { Self.table(self).message }
}

extension EtcdError {
    /// etcd's code and message for each error. One switch, so that a case without an entry
    /// does not compile.
    // Long: one line per error is the readable form of this table.
    private static func table(_ error: EtcdError) -> (code: GRPCStatus.Code, message: String) {
        switch error {
        case .emptyKey: (.invalidArgument, "etcdserver: key is not provided")
        case .keyNotFound: (.invalidArgument, "etcdserver: key not found")
        case .valueProvided: (.invalidArgument, "etcdserver: value is provided")
        case .leaseProvided: (.invalidArgument, "etcdserver: lease is provided")
        case .tooManyOperations: (.invalidArgument, "etcdserver: too many operations in txn request")
        case .duplicateKey: (.invalidArgument, "etcdserver: duplicate key given in txn request")
        case .invalidSortOption: (.invalidArgument, "etcdserver: invalid sort option")
        case .invalidCompare: (.invalidArgument, "etcdserver: invalid compare")
        case .compacted: (.outOfRange, "etcdserver: mvcc: required revision has been compacted")
        case .futureRevision: (.outOfRange, "etcdserver: mvcc: required revision is a future revision")
        case .noSpace: (.resourceExhausted, "etcdserver: mvcc: database space exceeded")
        case .leaseNotFound: (.notFound, "etcdserver: requested lease not found")
        case .leaseExists: (.failedPrecondition, "etcdserver: lease already exists")
        case .leaseTTLTooLarge: (.outOfRange, "etcdserver: too large lease TTL")
        case .watchCanceled: (.cancelled, "etcdserver: watch canceled")
        case .memberExists: (.failedPrecondition, "etcdserver: member ID already exist")
        case .peerURLExists: (.failedPrecondition, "etcdserver: Peer URLs already exists")
        // etcd hands gRPC its client-side error value for this one, which carries no gRPC
        // status, so the wire says UNKNOWN with the message; Keel sends the same.
        case .memberNotEnoughStarted: (.unknown, "etcdserver: re-configuration failed due to not enough started members")
        case .memberBadURLs: (.invalidArgument, "etcdserver: given member URLs are invalid")
        case .memberNotFound: (.notFound, "etcdserver: member not found")
        case .memberNotLearner: (.failedPrecondition, "etcdserver: can only promote a learner member")
        case .learnerNotReady: (.failedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader")
        case .tooManyLearners: (.failedPrecondition, "etcdserver: too many learner members in cluster")
        case .clusterIDMismatch: (.failedPrecondition, "etcdserver: cluster ID mismatch")
        case .requestTooLarge: (.invalidArgument, "etcdserver: request is too large")
        // As memberNotEnoughStarted: RESOURCE_EXHAUSTED in etcd's table, UNKNOWN on etcd's wire.
        case .tooManyRequests: (.unknown, "etcdserver: too many requests")
        case .rootUserNotExist: (.failedPrecondition, "etcdserver: root user does not exist")
        case .rootRoleNotExist: (.failedPrecondition, "etcdserver: root user does not have root role")
        case .userAlreadyExists: (.failedPrecondition, "etcdserver: user name already exists")
        case .userEmpty: (.invalidArgument, "etcdserver: user name is empty")
        case .userNotFound: (.failedPrecondition, "etcdserver: user name not found")
        case .roleAlreadyExists: (.failedPrecondition, "etcdserver: role name already exists")
        case .roleNotFound: (.failedPrecondition, "etcdserver: role name not found")
        case .roleEmpty: (.invalidArgument, "etcdserver: role name is empty")
        case .authFailed: (.invalidArgument, "etcdserver: authentication failed, invalid user ID or password")
        case .permissionNotGiven: (.invalidArgument, "etcdserver: permission not given")
        case .permissionDenied: (.permissionDenied, "etcdserver: permission denied")
        case .roleNotGranted: (.failedPrecondition, "etcdserver: role is not granted to the user")
        case .permissionNotGranted: (.failedPrecondition, "etcdserver: permission is not granted to the role")
        case .authNotEnabled: (.failedPrecondition, "etcdserver: authentication is not enabled")
        case .invalidAuthToken: (.unauthenticated, "etcdserver: invalid auth token")
        case .invalidAuthManagement: (.invalidArgument, "etcdserver: invalid auth management")
        case .authOldRevision: (.invalidArgument, "etcdserver: revision of auth store is old")
        case .noLeader: (.unavailable, "etcdserver: no leader")
        case .notLeader: (.failedPrecondition, "etcdserver: not leader")
        case .leaderChanged: (.unavailable, "etcdserver: leader changed")
        case .notCapable: (.unavailable, "etcdserver: not capable")
        case .stopped: (.unavailable, "etcdserver: server stopped")
        case .timeout: (.unavailable, "etcdserver: request timed out")
        case .timeoutDueToLeaderFail: (.unavailable, "etcdserver: request timed out, possibly due to previous leader failure")
        case .timeoutDueToConnectionLost: (.unavailable, "etcdserver: request timed out, possibly due to connection lost")
        case .timeoutWaitAppliedIndex: (.unavailable, "etcdserver: request timed out, waiting for the applied index took too long")
        case .unhealthy: (.unavailable, "etcdserver: unhealthy cluster")
        case .corrupt: (.dataLoss, "etcdserver: corrupt cluster")
        case .notSupportedForLearner: (.unavailable, "etcdserver: rpc not supported for learner")
        case .badLeaderTransferee: (.failedPrecondition, "etcdserver: bad leader transferee")
        case .clusterVersionUnavailable: (.unavailable, "etcdserver: cluster version not found during downgrade")
        case .wrongDowngradeVersionFormat: (.invalidArgument, "etcdserver: wrong downgrade target version format")
        case .invalidDowngradeTargetVersion: (.invalidArgument, "etcdserver: invalid downgrade target version")
        case .downgradeInProcess: (.failedPrecondition, "etcdserver: cluster has a downgrade job in progress")
        case .noInflightDowngrade: (.failedPrecondition, "etcdserver: no inflight downgrade job")
        case .canceled: (.cancelled, "etcdserver: request canceled")
        case .deadlineExceeded: (.deadlineExceeded, "etcdserver: context deadline exceeded")
        }
    }
}

import KeelAPI
import KeelIO
import KeelMVCC
import KeelRaft
import KeelStorage

/// What applying a proposal produced, for the request waiting on it.
enum AppliedOutcome: Sendable {
    case put(PutResponse)
    case deleteRange(DeleteRangeResponse)
    case txn(TxnResponse)
    case compact(CompactResponse)
    case leaseGranted(id: LeaseID, ttlSeconds: Int64, revision: Int64)
    case leaseRevoked(revision: Int64)
    case alarms([Etcdserverpb_AlarmMember], revision: Int64)
    /// A membership change or published attributes applied: the members now.
    case members([Etcdserverpb_Member])
    /// Refused by the key space or the node; the revision is the current one, for the header.
    case failed(EtcdError)
}

/// Applies committed proposals to the key space on the apply loop's thread.
///
/// Every entry is recorded as applied in the store (a no-op entry of a new leader too), so a
/// restart skips it. The outcome goes to the waiter of the request id that proposed it, if
/// this member has one; the answer runs after the batch is published.
final class ProposalApplier: EntryApplier {
    let keySpace: KeySpace
    let waiters: Waiters<AppliedOutcome>
    let alarms: AlarmTable
    let membership: MembershipKeeper

    init(keySpace: KeySpace, waiters: Waiters<AppliedOutcome>, alarms: AlarmTable, membership: MembershipKeeper) {
        self.keySpace = keySpace
        self.waiters = waiters
        self.alarms = alarms
        self.membership = membership
    }

    func apply(_ entry: Entry) throws(StorageError) -> (id: UInt64, outcome: AppliedOutcome)? {
        let applied = ConsistentIndex(index: entry.index.rawValue, term: entry.term.rawValue)
        if entry.kind == .confChange { return try applyConfChange(entry, applied) }
        guard entry.kind == .normal, !entry.data.isEmpty else {
            try keySpace.store.recordApplied(applied)
            return nil
        }
        let proposal: Proposal
        do throws(ProposalDecodingError) {
            proposal = try Proposal(decoding: entry.data)
        } catch {
            // The WAL checksums every record, so this is a proposal a newer Keel wrote, or a
            // bug: applying past it would let members diverge.
            preconditionFailure("raft entry \(entry.index) is not a proposal this Keel can apply: \(error)")
        }
        return (proposal.id, try execute(proposal.request, applied))
    }

    /// A membership change: the raft loop already applied it to raft (or skipped it, for the
    /// same refusal); here the stored membership follows, in order with the other entries.
    private func applyConfChange(_ entry: Entry, _ applied: ConsistentIndex) throws(StorageError) -> (id: UInt64, outcome: AppliedOutcome)? {
        guard let confChange = ConfChange(decoding: entry.data), let change = MemberChange(confChange) else {
            preconditionFailure("raft entry \(entry.index) is not a membership change this Keel can apply")
        }
        let outcome = try membership.apply(change, in: keySpace.store)
        try keySpace.store.recordApplied(applied)
        guard change.requestID != 0 else { return nil }
        return (change.requestID, outcome)
    }

    func answer(_ answers: [(id: UInt64, outcome: AppliedOutcome)]) {
        waiters.complete(answers)
    }

    private func execute(_ request: ProposalRequest, _ applied: ConsistentIndex) throws(StorageError) -> AppliedOutcome {
        if alarms.spaceExceeded && request.needsSpace {
            try keySpace.store.recordApplied(applied)
            return .failed(.noSpace)
        }
        switch request {
        case .put(let wire):
            return outcome(try keySpace.put(PutRequest(wire), applying: applied), AppliedOutcome.put)
        case .deleteRange(let wire):
            return outcome(try keySpace.deleteRange(DeleteRangeRequest(wire), applying: applied), AppliedOutcome.deleteRange)
        case .txn(let wire):
            return outcome(try keySpace.txn(TxnRequest(wire), applying: applied), AppliedOutcome.txn)
        case .compact(let wire):
            return outcome(try keySpace.compact(wire.revision, applying: applied), AppliedOutcome.compact)
        case .leaseGrant(let wire):
            let now = Int64(MonotonicClock.nanoseconds())
            let granted = try keySpace.leaseGrant(LeaseID(wire.id), ttlSeconds: wire.ttl, nowNanoseconds: now, applying: applied)
            let revision = keySpace.store.currentRevision
            return outcome(granted) { .leaseGranted(id: LeaseID(wire.id), ttlSeconds: $0, revision: revision) }
        case .leaseRevoke(let wire):
            return outcome(try keySpace.leaseRevoke(LeaseID(wire.id), applying: applied)) { .leaseRevoked(revision: $0) }
        case .leaseCheckpoint(let wire):
            let checkpoints = wire.checkpoints.map { LeaseCheckpoint(id: LeaseID($0.id), remainingTTLSeconds: $0.remainingTtl) }
            try keySpace.leaseCheckpoint(checkpoints, nowNanoseconds: Int64(MonotonicClock.nanoseconds()), applying: applied)
            return .leaseRevoked(revision: keySpace.store.currentRevision)
        case .alarm(let wire):
            let members = try alarms.apply(wire, in: keySpace.store)
            try keySpace.store.recordApplied(applied)
            return .alarms(members, revision: keySpace.store.currentRevision)
        case .memberAttributes(let member):
            let outcome = try membership.apply(attributes: member, in: keySpace.store)
            try keySpace.store.recordApplied(applied)
            return outcome
        }
    }

    private func outcome<Response>(_ result: Result<Response, MVCCRefusal>, _ make: (Response) -> AppliedOutcome) -> AppliedOutcome {
        switch result {
        case .success(let response): make(response)
        case .failure(let refusal): .failed(EtcdError(refusal))
        }
    }
}

extension ProposalRequest {
    /// What the write may add to the backend, as etcd's quota estimates it: a key-value
    /// overhead plus key and value for each put (the larger branch of a txn), a fixed overhead
    /// for a lease.
    var quotaCost: Int64 {
        switch self {
        case .put(let put): Self.putCost(put)
        case .txn(let txn): Self.txnCost(txn)
        case .leaseGrant: 64
        case .deleteRange, .compact, .leaseRevoke, .leaseCheckpoint, .alarm, .memberAttributes: 0
        }
    }

    /// Whether the request can grow the database, and is therefore refused while the NOSPACE
    /// alarm is raised (etcd's capped applier: puts, txns that put, lease grants): exactly the
    /// requests with a quota cost, since every put and every grant costs something.
    var needsSpace: Bool { quotaCost > 0 }

    private static func putCost(_ put: Etcdserverpb_PutRequest) -> Int64 { 256 + Int64(put.key.count + put.value.count) }

    private static func txnCost(_ txn: Etcdserverpb_TxnRequest) -> Int64 {
        func branch(_ ops: [Etcdserverpb_RequestOp]) -> Int64 {
            ops.reduce(0) { total, op in
                switch op.request {
                case .requestPut(let put): total + putCost(put)
                case .requestTxn(let nested): total + txnCost(nested)
                case .requestRange, .requestDeleteRange, .none: total
                }
            }
        }
        return max(branch(txn.success), branch(txn.failure))
    }
}

import KeelAPI
import KeelIO
import KeelRaft
import KeelStorage

/// The etcd version Keel's API answers as: the wire API and behaviour it implements.
public enum KeelVersion {
    public static let etcdServer = "3.5.0"
    public static let etcdCluster = "3.5.0"
    /// Keel's own version.
    public static let keel = "0.1.0"
}

extension KeelNode {
    /// Maintenance/Status as etcd fills it: raftIndex is the commit index.
    func status() -> Etcdserverpb_StatusResponse {
        var response = Etcdserverpb_StatusResponse()
        response.header = header()
        response.version = KeelVersion.etcdServer
        let stats = database.stats
        response.dbSize = Int64(stats.fileBytes)
        response.dbSizeInUse = Int64(stats.inUseBytes)
        response.leader = raft.state.leader.load(ordering: .relaxed)
        response.raftIndex = raft.state.commitIndex.load(ordering: .relaxed)
        response.raftTerm = raft.state.term.load(ordering: .relaxed)
        response.raftAppliedIndex = apply.appliedIndex.load(ordering: .relaxed)
        response.errors = alarms.list(.none).map { "memberID:\($0.memberID) alarm:\(Self.alarmName($0.alarm)) " }
        response.isLearner = members.first { $0.id == memberID }?.isLearner ?? false
        return response
    }

    static func alarmName(_ alarm: Etcdserverpb_AlarmType) -> String {
        switch alarm {
        case .none: "NONE"
        case .nospace: "NOSPACE"
        case .corrupt: "CORRUPT"
        case .UNRECOGNIZED(let value): String(value)
        }
    }

    /// Online defragmentation. The copy runs beside the apply loop; for the final switch the
    /// loop commits its open B+tree transaction after each batch (and is woken once to do so),
    /// so the writer role comes free, and waits only while the switch holds it.
    func defragment() throws {
        apply.writerWanted.store(true, ordering: .relaxed)
        defer { apply.writerWanted.store(false, ordering: .relaxed) }
        apply.submit(ApplyTask(ticket: nil, entries: [], reads: [], handedOver: MonotonicClock.nanoseconds()))
        let started = MonotonicClock.nanoseconds()
        let before = database.fileBytes
        do {
            try database.defragment()
        } catch {
            logger.warn("failed to defragment the backend", .error(error))
            throw GRPCStatus(.unknown, "etcdserver: defragment failed: \(error)")
        }
        logger.info("finished defragmenting the backend", .int("current-db-size-bytes", before),
                    .int("new-db-size-bytes", database.fileBytes),
                    .duration("took", .nanoseconds(Int64(MonotonicClock.nanoseconds() - started))))
    }

    /// Maintenance/MoveLeader: only the leader moves leadership, and only to a member.
    func moveLeader(to target: UInt64) -> EtcdError? {
        guard raft.state.leader.load(ordering: .relaxed) == memberID else { return .notLeader }
        guard members.contains(where: { $0.id == target }) else { return .badLeaderTransferee }
        if target != memberID { raft.mailbox.post(.transferLeader(NodeID(target))) }
        return nil
    }
}

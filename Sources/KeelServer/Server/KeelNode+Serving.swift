#if canImport(Glibc)
import Glibc
#endif
import KeelAPI
import NIOCore
import NIOPosix

extension NodeOptions {
    /// The node's part of the server's configuration.
    init(_ configuration: ServerConfiguration) {
        self.init(dataDirectory: configuration.dataDirectory)
        name = configuration.name
        walDirectory = configuration.dedicatedWALDirectory
        peerURLs = configuration.memberPeerURLs
        listenPeerURLs = configuration.listenPeerURLs.map(\.description)
        clientURLs = configuration.advertiseClientURLs.map(\.description)
        initialCluster = configuration.initialCluster.map { ($0.name, $0.peerURLs.map(\.description)) }
        clusterToken = configuration.initialClusterToken
        joinExisting = configuration.initialClusterState == .existing
        snapshotCount = configuration.snapshotCount
        snapshotCatchUpEntries = configuration.snapshotCatchUpEntries
        heartbeatMilliseconds = configuration.heartbeatIntervalMilliseconds
        electionMilliseconds = configuration.electionTimeoutMilliseconds
        quotaBackendBytes = configuration.backendQuotaBytes ?? ServerConfiguration.defaultQuotaBackendBytes
        walIO = switch configuration.walIO {
        case .auto: .auto
        case .uring: .uring
        case .sync: .sync
        }
        watchProgressNotifyIntervalNanoseconds = configuration.watchProgressNotifyIntervalNanoseconds
        leaseCheckpointsEnabled = configuration.leaseCheckpointsEnabled
        leaseCheckpointIntervalNanoseconds = configuration.leaseCheckpointIntervalNanoseconds
        limits = RequestLimits(maxRequestBytes: Int(configuration.maxRequestBytes), maxTxnOps: Int(configuration.maxTxnOps))
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        unixMilliseconds = UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec / 1_000_000)
    }
}

extension KeelNode {
    /// Blocks until a leader is known and this member has applied what was committed when it
    /// learned of it: before that, a read could miss acknowledged writes replayed from the WAL.
    func waitUntilServing() {
        while true {
            let leader = raft.state.leader.load(ordering: .relaxed)
            let committed = raft.state.commitIndex.load(ordering: .relaxed)
            if leader != 0 && apply.appliedIndex.load(ordering: .relaxed) >= committed { return }
            // A removed member never finds a leader: it starts only to stop (ServerHost).
            if membership.isRemoved { return }
            usleep(2_000)
        }
    }

    /// The etcd services this build serves, for gRPC and the gateway.
    func routes(pool: NIOThreadPool, metrics: EtcdMetrics) -> ServiceRoutes {
        var routes = ServiceRoutes(metrics: metrics.grpc)
        // etcd's learner serves Status and serializable ranges only.
        routes.refusal = { [self] request in
            guard isLearner else { return nil }
            if request is Etcdserverpb_StatusRequest { return nil }
            if let range = request as? Etcdserverpb_RangeRequest, range.serializable { return nil }
            return EtcdError.notSupportedForLearner.status
        }
        // ...and no stream but Maintenance/Snapshot (server-streaming, never refused here).
        routes.streamRefusal = { [self] in isLearner ? EtcdError.notSupportedForLearner.status : nil }
        KVService(node: self, metrics: metrics).register(in: &routes)
        MaintenanceService(node: self, pool: pool).register(in: &routes)
        ClusterService(node: self).register(in: &routes)
        LeaseService(node: self).register(in: &routes)
        WatchService(node: self).register(in: &routes)
        return routes
    }

    /// /health as etcd 3.5 checks it: no alarm (unless excluded), a leader, and a read that
    /// goes through (linearizable unless the query asks for a serializable one).
    func health(_ query: HealthQuery, on eventLoop: any EventLoop) -> EventLoopFuture<HealthStatus> {
        for alarm in alarms.list(.none) {
            let name = Self.alarmName(alarm.alarm)
            if !query.excludedAlarms.contains(name) {
                return eventLoop.makeSucceededFuture(HealthStatus(healthy: false, reason: "ALARM \(name)"))
            }
        }
        if query.serializable { return eventLoop.makeSucceededFuture(HealthStatus(healthy: true)) }
        guard raft.state.leader.load(ordering: .relaxed) != 0 else {
            return eventLoop.makeSucceededFuture(HealthStatus(healthy: false, reason: "RAFT NO LEADER"))
        }
        return readIndex(on: eventLoop).map { outcome in
            switch outcome {
            case .applied: HealthStatus(healthy: true)
            case .refused: HealthStatus(healthy: false, reason: "RANGE ERROR:\(self.readRefusal.message)")
            }
        }
    }

    /// Copies the node's counters into the metrics (every half second, and they are read at
    /// scrape time too where the registry computes them).
    func sample(into metrics: EtcdMetrics) {
        let leader = raft.state.leader.load(ordering: .relaxed)
        metrics.hasLeader.set(leader != 0 ? 1 : 0)
        metrics.isLeader.set(leader == memberID ? 1 : 0)
        metrics.proposalsCommitted.set(Double(raft.state.commitIndex.load(ordering: .relaxed)))
        metrics.proposalsApplied.set(Double(apply.appliedIndex.load(ordering: .relaxed)))
        metrics.proposalsPending.set(Double(proposals.count))
        let census = keySpace.watches.census
        metrics.watchStreams.set(census.streams)
        metrics.watchers.set(census.watchers)
        metrics.slowWatchers.set(census.unsynced)
        // Counters catch up with the node's own counts (the sampler is the only writer).
        let changes = raft.state.leaderChanges.load(ordering: .relaxed)
        if changes > metrics.leaderChangesSeen.value { metrics.leaderChangesSeen.add(changes - metrics.leaderChangesSeen.value) }
        let failed = failedProposals.load(ordering: .relaxed)
        if failed > metrics.proposalsFailed.value { metrics.proposalsFailed.add(failed - metrics.proposalsFailed.value) }
    }
}

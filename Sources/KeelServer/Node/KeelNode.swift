import KeelAPI
import KeelIO
import KeelMVCC
import KeelRaft
import KeelStorage
import KeelWAL
import NIOCore
import Synchronization

/// One Keel member: the B+tree key space, the raft log in the WAL, the raft loop and the apply
/// loop, and the ways the client services reach them.
///
/// A write is proposed with `propose`: it gets a request id and a waiter, goes to the raft
/// loop as an encoded `Proposal`, and is answered by the apply loop once applied (or fails
/// with "request timed out" after `requestTimeout`). A linearizable read waits for a read
/// index with `readIndex`, then reads the published key space on its own thread.
public final class KeelNode: Sendable {
    public let name: String
    public let memberID: UInt64
    public let clusterID: UInt64
    let options: NodeOptions
    let database: Database
    let keySpace: KeySpace
    let membership: MembershipKeeper
    let raft: RaftLoop
    let apply: ApplyLoop
    let proposals: Waiters<AppliedOutcome>
    /// Each event loop's proposals of one turn, on their way to the raft loop.
    let proposalBatches: ProposalBatches
    let reads: Waiters<ReadIndexOutcome>
    let requestIDs: RequestIDGenerator
    let wal: WAL
    let alarms: AlarmTable
    let logger: ServerLogger
    /// The built-in latency harness.
    let stages: StageLatencies
    /// Promotes and demotes the lessor with raft leadership.
    let leaseLeadership: LeaseExpiryLeadership
    /// Catches lagging watchers up and sends progress notifications.
    let watchSync: WatchSyncLoop
    /// The transport to the other members; nil in a one-member cluster.
    let peers: PeerTransport?
    let stopped = Atomic<Bool>(false)
    /// Proposals that raft refused, that timed out, or that the node dropped on stopping
    /// (etcd_server_proposals_failed_total).
    let failedProposals = Atomic<UInt64>(0)

    private init(options: NodeOptions, database: Database, keySpace: KeySpace, membership: MembershipKeeper,
                 memberID: UInt64, raft: RaftLoop, apply: ApplyLoop, proposals: Waiters<AppliedOutcome>,
                 reads: Waiters<ReadIndexOutcome>, wal: WAL, alarms: AlarmTable, logger: ServerLogger,
                 leaseLeadership: LeaseExpiryLeadership, stages: StageLatencies, peers: PeerTransport?) {
        self.peers = peers
        self.leaseLeadership = leaseLeadership
        self.stages = stages
        self.wal = wal
        self.alarms = alarms
        self.name = options.name
        self.options = options
        self.database = database
        self.keySpace = keySpace
        self.membership = membership
        self.memberID = memberID
        self.clusterID = membership.membership.clusterID
        self.raft = raft
        self.apply = apply
        self.proposals = proposals
        self.proposalBatches = ProposalBatches(mailbox: raft.mailbox) { ids in
            for id in ids { proposals.complete(id, with: .failed(.stopped)) }
        }
        self.reads = reads
        self.requestIDs = RequestIDGenerator(memberID: memberID, unixMilliseconds: options.unixMilliseconds)
        self.logger = logger
        self.watchSync = WatchSyncLoop(hub: keySpace.watches)
    }

    /// Opens (or creates) the member's data and starts its loops. A new one-member cluster
    /// elects itself at once; in a larger one the members elect a leader by their election
    /// timeouts, talking through a peer transport on `group` (required then).
    public static func start(_ options: NodeOptions, logger: ServerLogger, observers: NodeObservers = NodeObservers(),
                             group: (any EventLoopGroup)? = nil) throws(NodeStartError) -> KeelNode {
        do {
            try Syscalls.makeDirectory(options.dataDirectory)
            try Syscalls.makeDirectory(options.dataDirectory + "/member")
            try Syscalls.makeDirectory(options.snapDirectory)
        } catch {
            throw .configuration("cannot create the data directory \(options.dataDirectory): \(error)")
        }
        let database: Database
        let keySpace: KeySpace
        do throws(StorageError) {
            var storage = StorageOptions()
            storage.backend = options.walIO
            database = try Database.open(path: options.backendPath, options: storage)
            let electionNanoseconds = Int64(options.electionMilliseconds) * 1_000_000
            var lessor = LessorConfig(minTTLSeconds: LessorConfig.minTTLSeconds(electionTimeoutNanoseconds: electionNanoseconds))
            lessor.checkpointsEnabled = options.leaseCheckpointsEnabled
            lessor.checkpointIntervalNanoseconds = options.leaseCheckpointIntervalNanoseconds
            var keySpaceOptions = KeySpaceOptions(lessor: lessor)
            keySpaceOptions.watch.progressIntervalNanoseconds = options.watchProgressNotifyIntervalNanoseconds
            let stages = observers.stages
            keySpaceOptions.store.clock = { MonotonicClock.nanoseconds() }
            keySpaceOptions.store.commitObserver = { [external = observers.backendCommit] nanoseconds in
                stages.backendCommit.record(nanoseconds: nanoseconds)
                external?(nanoseconds)
            }
            keySpaceOptions.store.rangeObserver = { index, read in
                stages.indexLookup.record(nanoseconds: index)
                stages.backendRead.record(nanoseconds: read)
            }
            keySpace = try KeySpace(database: database, options: keySpaceOptions)
        } catch {
            throw .storage(error)
        }
        let membership: ClusterMembership
        if let stored = try ClusterMembership.load(from: database) {
            membership = stored
        } else {
            membership = options.joinExisting
                ? try ClusterMembership.fetch(options, group: group, logger: logger) : try ClusterMembership.bootstrap(options)
            do throws(StorageError) { try membership.save(in: keySpace.store) } catch { throw .storage(error) }
        }
        guard let me = membership.local(options) else {
            throw .configuration("member \"\(options.name)\" is not in the cluster this data directory belongs to")
        }
        return try assemble(options, database: database, keySpace: keySpace, membership: membership, memberID: me.id,
                            logger: logger, observers: observers, group: group)
    }

    private static func assemble(_ options: NodeOptions, database: Database, keySpace: KeySpace, membership: ClusterMembership,
                                 memberID: UInt64, logger: ServerLogger, observers: NodeObservers,
                                 group: (any EventLoopGroup)?) throws(NodeStartError) -> KeelNode {
        let voters = membership.members.filter { !$0.isLearner }.map { NodeID($0.id) }
        let learners = membership.members.filter(\.isLearner).map { NodeID($0.id) }
        var walOptions = WALOptions()
        walOptions.backend = options.walIO
        walOptions.writerWakesWaiters = true
        walOptions.log = { line in logger.warn("wal: " + line) }
        let stages = observers.stages
        walOptions.clock = { MonotonicClock.nanoseconds() }
        walOptions.syncObserver = { [external = observers.walSync] nanoseconds in
            stages.walWriteFsync.record(nanoseconds: nanoseconds)
            external?(nanoseconds)
        }
        let log: RaftLogStore
        do throws(WALError) {
            log = try RaftLogStore(directory: options.walPath, options: walOptions, confState: ConfState(voters: voters, learners: learners))
        } catch {
            throw .wal("\(error)")
        }
        let files = SnapshotDatabaseFiles(directory: options.snapDirectory, storage: database.storageOptions)
        let installer = SnapshotInstaller(files: files, keySpace: keySpace, logger: logger)
        var membership = membership
        let installedAtStart: Bool
        do throws(StorageError) {
            installedAtStart = try installPendingSnapshot(log: log, keySpace: keySpace, installer: installer)
        } catch {
            throw .storage(error)
        }
        if installedAtStart { membership = try ClusterMembership.load(from: database) ?? membership }
        files.removeAll()
        let applied = keySpace.store.consistentIndex.index
        let hard = log.memory.hardState
        guard applied <= max(hard.commit.rawValue, log.snapshotIndex.rawValue) else {
            throw .wal("the backend has applied entry \(applied) but the WAL commits only through \(hard.commit); was the WAL removed?")
        }
        var config = KeelRaft.Config(id: NodeID(memberID))
        config.heartbeatIntervalTicks = 1
        config.electionTimeoutTicks = Int(max(options.electionMilliseconds / max(options.heartbeatMilliseconds, 1), 2))
        config.applied = KeelRaft.LogIndex(max(applied, log.snapshotIndex.rawValue))
        config.randomSeed = memberID ^ options.unixMilliseconds
        if membership.members.count > 1 {
            config.log = { line in logger.log(.info, line, [], caller: "raft") }
        }
        let proposals = Waiters<AppliedOutcome>(timedOut: .failed(.timeout))
        let reads = Waiters<ReadIndexOutcome>(timedOut: .refused)
        let fatal: @Sendable (String) -> Void = { message in logger.fatal(message) }
        let alarms = AlarmTable(database: database)
        let keeper = MembershipKeeper(membership, localID: memberID)
        keeper.onRemoved { logger.warn("the member has been permanently removed from the cluster", .string("local-member-id", hex(memberID))) }
        let applier = ProposalApplier(keySpace: keySpace, waiters: proposals, alarms: alarms, membership: keeper)
        let apply = ApplyLoop(keySpace: keySpace, wal: log.wal, applier: applier, readWaiters: reads,
                              snapshotIndex: log.snapshotIndex.rawValue, snapshotCount: options.snapshotCount,
                              stages: stages, fatal: fatal)
        let raft = RaftLoop(
            node: RawNode(config: config, storage: log.memory), log: log,
            tickNanoseconds: options.heartbeatMilliseconds * 1_000_000, apply: apply,
            snapshotKeepEntries: options.snapshotCatchUpEntries, stages: stages,
            refused: { ids, isRead in
                if isRead {
                    for id in ids { reads.complete(id, with: .refused) }
                } else {
                    for id in ids { proposals.complete(id, with: .failed(.noLeader)) }
                }
            },
            fatal: fatal,
            onEvent: { level, message, fields in logger.log(level, message, fields.map { LogField.string($0.0, $0.1) }, caller: "raft") })
        apply.snapshotTaken = { [raft] index, term in raft.mailbox.post(.snapshotTaken(index: index, term: term)) }
        raft.onTick = { now in
            proposals.expire(now: now)
            reads.expire(now: now)
        }
        apply.installer = installer
        let leaseLeadership = LeaseExpiryLeadership(
            lessor: keySpace.lessor, extendNanoseconds: Int64(options.electionMilliseconds) * 1_000_000)
        raft.onLeadership = { isLeader, lastIndex in leaseLeadership.leadershipChanged(isLeader: isLeader, lastIndex: lastIndex) }
        let peers = try makePeerTransport(options, membership: membership, memberID: memberID, raft: raft, keeper: keeper,
                                          group: group, logger: logger)
        raft.peers = peers
        // Any member with peers may send or receive a snapshot: one started alone can grow.
        if peers != nil {
            raft.snapshots = RaftSnapshots(files: files, database: database, logger: logger,
                                           report: { [raft] report in raft.mailbox.post(.peerReport(report)) })
        }
        raft.membership = RaftMembership(membership, localID: NodeID(memberID))
        if let peers {
            do {
                try peers.start()
            } catch {
                _ = log.wal.close()
                throw .configuration("cannot listen for peers on \(options.listenPeerURLs.joined(separator: ",")): \(error)")
            }
            logger.info("started the peer transport", .string("local-member-id", hex(memberID)),
                        .strings("peers", peers.peers.map { hex($0.rawValue) }))
        }
        let node = KeelNode(options: options, database: database, keySpace: keySpace, membership: keeper, memberID: memberID,
                            raft: raft, apply: apply, proposals: proposals, reads: reads, wal: log.wal, alarms: alarms,
                            logger: logger, leaseLeadership: leaseLeadership, stages: stages, peers: peers)
        node.servePeerRequests()
        apply.start()
        node.watchSync.start()
        // Before raft runs: no snapshot can arrive earlier.
        installer.afterInstall = { [node] in node.reloadAfterSnapshot() }
        raft.start(campaign: voters == [NodeID(memberID)])
        return node
    }

    /// Installs the database of a snapshot whose WAL marker is past what the backend holds
    /// (a crash between the marker and the install: see ``SnapshotDatabaseFiles``); returns
    /// whether it did. Refuses to start when that database is missing: the WAL no longer
    /// holds the entries between the backend and the marker.
    private static func installPendingSnapshot(log: RaftLogStore, keySpace: KeySpace,
                                               installer: SnapshotInstaller) throws(StorageError) -> Bool {
        let marker = log.snapshotIndex
        guard marker.rawValue > keySpace.store.consistentIndex.index else { return false }
        guard installer.files.exists(marker) else {
            throw .failed("the WAL starts at snapshot \(marker) but the backend holds entries only through \(keySpace.store.consistentIndex.index), and \(installer.files.path(marker)) is missing")
        }
        _ = try installer.install(index: marker)
        return true
    }

    /// After a snapshot replaced the backend: the alarms and the membership it holds.
    private func reloadAfterSnapshot() {
        alarms.reload(from: database)
        do {
            if let stored = try ClusterMembership.load(from: database) {
                membership.reload(stored)
                raft.mailbox.post(.membershipInstalled(stored))
            }
        } catch {
            logger.warn("the snapshot's membership does not decode; keeping the one in memory", .error(error))
        }
    }

    // MARK: Requests

    /// Proposes `request` and completes with its applied outcome, or fails it with etcd's
    /// error: request too large, no leader, request timed out, server stopped.
    func propose(_ request: ProposalRequest, on eventLoop: any EventLoop) -> EventLoopFuture<AppliedOutcome> {
        let promise = eventLoop.makePromise(of: AppliedOutcome.self)
        propose(request, on: eventLoop) { promise.succeed($0) }
        return promise.futureResult
    }

    /// Proposes `request` and calls `completion` once with its applied outcome, on
    /// `eventLoop` (at once, on the calling thread, when it is refused before raft sees it).
    /// The form the hot paths use: no promise or future per request.
    func propose(_ request: ProposalRequest, on eventLoop: any EventLoop,
                 completion: @escaping @Sendable (AppliedOutcome) -> Void) {
        guard !stopped.load(ordering: .relaxed) else { return completion(.failed(.stopped)) }
        let arrived = MonotonicClock.nanoseconds()
        let id = requestIDs.make()
        let data = Proposal(id: id, request: request).encoded()
        guard data.count <= options.limits.maxRequestBytes else { return completion(.failed(.requestTooLarge)) }
        proposals.register(id, deadline: arrived + options.requestTimeoutNanoseconds, on: eventLoop) { [self] outcome in
            stages.writeTotal.record(since: arrived, now: MonotonicClock.nanoseconds())
            if case .failed(let error) = outcome, [.timeout, .noLeader, .stopped].contains(error) {
                failedProposals.add(1, ordering: .relaxed)
            }
            completion(outcome)
        }
        proposalBatches.add(data, id: id, arrived: arrived, on: eventLoop)
    }

    /// Waits until this member has applied everything committed when the read arrived, as
    /// confirmed by the leader (ReadIndex), so a read served afterwards is linearizable.
    func readIndex(on eventLoop: any EventLoop) -> EventLoopFuture<ReadIndexOutcome> {
        let promise = eventLoop.makePromise(of: ReadIndexOutcome.self)
        readIndex(on: eventLoop) { promise.succeed($0) }
        return promise.futureResult
    }

    /// `readIndex(on:)` calling `completion` once with the outcome, on `eventLoop`.
    func readIndex(on eventLoop: any EventLoop, completion: @escaping @Sendable (ReadIndexOutcome) -> Void) {
        let id = requestIDs.make()
        let arrived = MonotonicClock.nanoseconds()
        reads.register(id, deadline: arrived + options.requestTimeoutNanoseconds, on: eventLoop) { [stages] outcome in
            stages.readIndexWait.record(since: arrived, now: MonotonicClock.nanoseconds())
            completion(outcome)
        }
        send(.readIndex(id: id), waitingIn: reads, id: id, refused: .refused)
    }

    /// Hands `input` to the raft loop for the waiter `id` (already registered in `waiters`
    /// with its deadline); completes the waiter at once with `refused` if the raft loop has
    /// stopped.
    func send<Outcome: Sendable>(_ input: RaftInput, waitingIn waiters: Waiters<Outcome>, id: UInt64, refused: Outcome) {
        if !raft.mailbox.post(input) { waiters.complete(id, with: refused) }
    }

    /// The header every response carries; the revision is the current one unless given.
    func header(revision: Int64? = nil) -> Etcdserverpb_ResponseHeader {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = clusterID
        header.memberID = memberID
        header.revision = revision ?? keySpace.store.currentRevision
        header.raftTerm = raft.state.term.load(ordering: .relaxed)
        return header
    }

    /// Why a linearizable read got no read index.
    var readRefusal: EtcdError {
        if stopped.load(ordering: .relaxed) { return .stopped }
        return raft.state.leader.load(ordering: .relaxed) == 0 ? .noLeader : .leaderChanged
    }

    /// etcd's quota check before a write that can grow the database: refused while a NOSPACE
    /// alarm is raised; a write that would take the backend past --quota-backend-bytes raises
    /// the alarm (through raft, so every member refuses from then on) and is refused.
    func quotaRefusal(for request: ProposalRequest, on eventLoop: any EventLoop) -> EtcdError? {
        let cost = request.quotaCost
        guard cost > 0 else { return nil }
        if alarms.spaceExceeded { return .noSpace }
        let used = Int64(database.fileBytes + apply.uncommittedBytes.load(ordering: .relaxed))
        guard used + cost > options.quotaBackendBytes else { return nil }
        var alarm = Etcdserverpb_AlarmRequest()
        alarm.action = .activate
        alarm.memberID = memberID
        alarm.alarm = .nospace
        logger.warn("database space exceeded", .int("quota-size-bytes", options.quotaBackendBytes),
                    .int("backend-size-bytes", database.fileBytes))
        _ = propose(.alarm(alarm), on: eventLoop)
        return .noSpace
    }

    var members: [Etcdserverpb_Member] { membership.members }

    // MARK: Stopping

    /// Stops taking requests, lets the loops finish what is queued, commits the B+tree and
    /// closes the WAL and the database. Waiting requests fail with "server stopped".
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        // First the peers: nothing more arrives for the raft loop, and the others see this
        // member go at once rather than at a timeout.
        peers?.stop()
        raft.stop()
        // Copies of the B+tree for followers read the database until they end.
        raft.snapshots?.stop()
        apply.stop()
        // After the apply loop (no more revisions) and before the database closes (it reads
        // history).
        watchSync.stop()
        proposals.completeAll(with: .failed(.stopped))
        reads.completeAll(with: .refused)
        _ = wal.close()
        database.close()
    }
}

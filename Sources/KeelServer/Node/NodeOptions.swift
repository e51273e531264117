import KeelIO

/// What a node is started with: the part of the server's configuration the node itself uses
/// (the listeners and logging are set up around it).
public struct NodeOptions: Sendable {
    public var name = "default"
    /// Holds `member/snap/db` (the B+tree) and, unless `walDirectory` is set, `member/wal`.
    public var dataDirectory: String
    public var walDirectory: String?
    /// This member's peer URLs (--initial-advertise-peer-urls), which its id derives from.
    public var peerURLs = ["http://localhost:2380"]
    /// Where the peer transport listens (--listen-peer-urls; the first http URL), in a
    /// cluster of more than one member.
    public var listenPeerURLs = ["http://localhost:2380"]
    /// The URLs clients reach this member at (--advertise-client-urls), for MemberList.
    public var clientURLs = ["http://localhost:2379"]
    /// --initial-cluster, as (name, peer URLs); used only when the member is new.
    public var initialCluster: [(name: String, peerURLs: [String])] = [("default", ["http://localhost:2380"])]
    public var clusterToken = "etcd-cluster"
    /// --initial-cluster-state existing: a new member joins a running cluster (after
    /// MemberAdd) and learns the membership from the peers of `initialCluster`.
    public var joinExisting = false
    public var snapshotCount: UInt64 = 100_000
    /// Entries kept in memory behind a snapshot, for a follower that is slightly behind.
    public var snapshotCatchUpEntries: UInt64 = 5_000
    public var heartbeatMilliseconds: UInt64 = 100
    public var electionMilliseconds: UInt64 = 1_000
    public var quotaBackendBytes: Int64 = 2 << 30
    /// `--wal-io`; sync by default (README, "Measuring the disk and the WAL", says why).
    public var walIO: IOBackendChoice = .sync
    /// --max-request-bytes and --max-txn-ops.
    public var limits = RequestLimits()
    /// How long a write may wait for its entry to be applied before "request timed out"
    /// (etcd: 5 s plus two election timeouts).
    public var requestTimeoutMilliseconds: UInt64?
    /// How often a progress_notify watcher that saw no event hears the current revision
    /// (etcd's progress report interval: 10 minutes; its tests shorten it, and so may ours).
    public var watchProgressNotifyIntervalNanoseconds: Int64 = 600 * 1_000_000_000
    /// Whether the leader checkpoints remaining lease TTLs, and how often.
    public var leaseCheckpointsEnabled = true
    public var leaseCheckpointIntervalNanoseconds: Int64 = 300 * 1_000_000_000
    /// Wall-clock milliseconds since 1970, the time base of request ids.
    public var unixMilliseconds: UInt64 = 0

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    var walPath: String { walDirectory ?? dataDirectory + "/member/wal" }
    var snapDirectory: String { dataDirectory + "/member/snap" }
    var backendPath: String { snapDirectory + "/db" }
    var requestTimeoutNanoseconds: UInt64 {
        (requestTimeoutMilliseconds ?? (5_000 + 2 * electionMilliseconds)) * 1_000_000
    }
}

/// Where a node reports the durations the metrics want (etcd_disk_wal_fsync_duration_seconds,
/// etcd_disk_backend_commit_duration_seconds), in nanoseconds, from the WAL writer and the
/// apply loop: they must only record.
public struct NodeObservers: Sendable {
    public var walSync: (@Sendable (UInt64) -> Void)?
    public var backendCommit: (@Sendable (UInt64) -> Void)?
    /// Where every stage of the write and read paths is timed (the built-in latency harness);
    /// by default one of the node's own, seen by nobody.
    public var stages = StageLatencies(registry: MetricsRegistry())
    public init() {}
}

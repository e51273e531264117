/// The `keel` server's settings, read from etcd 3.5's command-line flags and ETCD_* variables
/// by `ServerConfiguration.parse(arguments:environment:)`; every value here is checked.
///
/// Keel's one deliberate difference from etcd: the data directory defaults to "<name>.keel".
/// Fields are settable so tests can point a parsed configuration elsewhere (a temporary data
/// directory, another port); `parse` is what checks them, a later change is the caller's to get
/// right.
public struct ServerConfiguration: Sendable {
    /// What `parse` decided the process should do.
    public enum ParseOutcome: Sendable {
        /// Start a member with this configuration.
        case run(ServerConfiguration)
        /// `--version` was given: print the version to stdout and exit 0.
        case version
        /// `-h`/`--help` was given: print this usage text to stdout and exit 0.
        case help(String)
    }

    /// etcd's default backend quota, used when `--quota-backend-bytes` is 0.
    public static let defaultQuotaBackendBytes: Int64 = 2 * 1024 * 1024 * 1024
    public static let defaultSnapshotCount: UInt64 = 100_000

    public var name: String
    public var dataDirectory: String
    /// `--wal-dir` when given; `walDirectory` is where the WAL actually lives.
    public var dedicatedWALDirectory: String?
    public var listenClientURLs: [ConfiguredURL]
    public var advertiseClientURLs: [ConfiguredURL]
    public var listenPeerURLs: [ConfiguredURL]
    public var initialAdvertisePeerURLs: [ConfiguredURL]
    /// `--initial-cluster` read into members sorted by name, each with its sorted peer URLs.
    public var initialCluster: [InitialClusterMember]
    public var initialClusterState: InitialClusterState
    public var initialClusterToken: String
    /// Applied entries between snapshots; a given 0 is replaced by etcd's 100000.
    public var snapshotCount: UInt64
    /// --experimental-snapshot-catchup-entries: entries kept in the raft log before a snapshot,
    /// so that a follower a little behind catches up by append rather than by snapshot.
    public var snapshotCatchUpEntries: UInt64 = 5000
    public var heartbeatIntervalMilliseconds: UInt64
    public var electionTimeoutMilliseconds: UInt64
    /// `--quota-backend-bytes` as given: 0 means the 2 GiB default, negative means no quota.
    public var quotaBackendBytesFlag: Int64
    public var maxRequestBytes: UInt64
    public var maxTxnOps: UInt64
    public var autoCompaction: AutoCompaction
    public var logLevel: LogLevel
    public var walIO: WALIOMode
    /// --experimental-watch-progress-notify-interval, > 0.
    public var watchProgressNotifyIntervalNanoseconds: Int64
    /// --experimental-enable-lease-checkpoint.
    public var leaseCheckpointsEnabled: Bool
    /// --lease-checkpoint-interval, > 0.
    public var leaseCheckpointIntervalNanoseconds: Int64
    /// --experimental-peer-fault-injection: serve the partition switch under /debug/peers.
    public var peerFaultInjection = false
    /// Events for the node to log at start, in the order etcd would log them.
    public var notices: [ConfigurationNotice]

    /// Where the client listeners bind, one per `--listen-client-urls` URL.
    public var clientListenAddresses: [ListenAddress] { listenClientURLs.map(Self.listenAddress) }
    /// Where the peer listeners bind, one per `--listen-peer-urls` URL.
    public var peerListenAddresses: [ListenAddress] { listenPeerURLs.map(Self.listenAddress) }
    /// This member's peer URLs as text, sorted: the input of its member id.
    public var memberPeerURLs: [String] { initialAdvertisePeerURLs.map(\.description) }
    /// etcd's layout: "<data-dir>/member".
    public var memberDirectory: String { dataDirectory + "/member" }
    /// `--wal-dir`, or "<data-dir>/member/wal".
    public var walDirectory: String { dedicatedWALDirectory ?? memberDirectory + "/wal" }
    /// "<data-dir>/member/snap": raft snapshots and the backend.
    public var snapDirectory: String { memberDirectory + "/snap" }
    /// The backend database file, where etcd keeps it: "<data-dir>/member/snap/db".
    public var backendPath: String { snapDirectory + "/db" }
    /// The backend quota in bytes, nil when a negative `--quota-backend-bytes` turned it off.
    public var backendQuotaBytes: Int64? {
        switch quotaBackendBytesFlag {
        case ..<0: return nil
        case 0: return Self.defaultQuotaBackendBytes
        default: return quotaBackendBytesFlag
        }
    }
    /// Heartbeat intervals in one election timeout (etcd's election ticks; a tick is one
    /// heartbeat interval).
    public var electionTicks: Int { Int(electionTimeoutMilliseconds / heartbeatIntervalMilliseconds) }

    static func listenAddress(_ url: ConfiguredURL) -> ListenAddress {
        if url.scheme == "unix" || url.scheme == "unixs" { return .unix(path: url.host + url.path) }
        guard let port = url.port else { preconditionFailure("http URL \(url) was accepted without a port") }
        return .tcp(host: url.host == "localhost" ? "127.0.0.1" : url.host, port: port)
    }
}

/// `--initial-cluster-state`.
public enum InitialClusterState: String, Sendable, Equatable {
    /// Bootstrap a new cluster from `--initial-cluster`.
    case new
    /// Join a cluster that already exists (the member was added with MemberAdd first).
    case existing
}

/// `--wal-io`, Keel's own flag: how the write-ahead log reaches the disk.
public enum WALIOMode: String, Sendable, Equatable, CaseIterable {
    /// io_uring when the kernel offers it, else the portable path.
    case auto
    /// io_uring only; starting fails when the kernel refuses it.
    case uring
    /// pwritev + fdatasync.
    case sync
}

/// `--auto-compaction-mode` and `--auto-compaction-retention` read together.
public enum AutoCompaction: Sendable, Equatable {
    /// Retention "0" (in either mode): no automatic compaction.
    case off
    /// Keep this much history by time (mode periodic; a bare number is hours).
    case periodic(Duration)
    /// Keep this many revisions (mode revision).
    case revision(UInt64)
}

/// Where a listener binds, from a `--listen-*-urls` URL.
public enum ListenAddress: Sendable, Hashable {
    /// A TCP address; "localhost" is given as 127.0.0.1, IPv6 without brackets.
    case tcp(host: String, port: Int)
    /// A unix socket path (for "unix://name" etcd listens on the socket named by host + path).
    case unix(path: String)
}

/// One member of `--initial-cluster`: its name and peer URLs (sorted, as etcd keeps them).
public struct InitialClusterMember: Sendable, Equatable {
    public let name: String
    public let peerURLs: [ConfiguredURL]
}

/// Something parsing noticed that the node should log once its logger exists (etcd logs these
/// while parsing): environment variables used or not recognized, deprecated flags, adjusted
/// values. The messages and field names are etcd's.
public struct ConfigurationNotice: Sendable, Equatable {
    public let level: LogLevel
    public let message: String
    public let fields: [LogField]
}

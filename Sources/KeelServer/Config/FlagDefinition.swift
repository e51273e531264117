/// One command-line flag `keel` accepts: its name (without dashes), how its value is read, the
/// default as text, and one line of help.
struct FlagDefinition: Sendable {
    enum Kind: Sendable, Equatable {
        case string
        /// Go's boolean flag: `--flag` alone means true; a value must be attached with "=".
        case bool
        /// An unsigned integer read as Go's `strconv.ParseUint(s, 0, 64)` reads it.
        case unsigned
        /// A signed integer read as Go's `strconv.ParseInt(s, 0, 64)` reads it.
        case signed
        /// A Go `time.Duration` ("300ms", "1m30s"), read as `time.ParseDuration` reads it.
        case duration
        /// A comma-separated URL list, sorted and de-duplicated; "" keeps the current list.
        case urls
        /// One of a fixed set; anything else is refused while the flag is set.
        case choice([String])
    }

    let name: String
    let kind: Kind
    let defaultValue: String
    let usage: String

    /// The environment variable that sets this flag: ETCD_ + name upper-cased, "-" → "_".
    var environmentKey: String { FlagDefinition.environmentKey(for: name) }

    static func environmentKey(for name: String) -> String {
        "ETCD_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 })
    }
}

/// Every flag `keel` defines, in help order. Defaults are etcd 3.5's, except `--data-dir`
/// (empty here, resolved to "<name>.keel"), `--experimental-enable-lease-checkpoint` (on here) and
/// Keel's own `--wal-io`, `--lease-checkpoint-interval` and `--experimental-peer-fault-injection`.
enum FlagTable {
    static let all: [FlagDefinition] = [
        .init(name: "name", kind: .string, defaultValue: "default", usage: "Human-readable name of this member."),
        .init(name: "data-dir", kind: .string, defaultValue: "", usage: "Directory of this member's data (default \"<name>.keel\")."),
        .init(name: "wal-dir", kind: .string, defaultValue: "", usage: "Directory of the write-ahead log (default \"<data-dir>/member/wal\")."),
        .init(name: "listen-client-urls", kind: .urls, defaultValue: "http://localhost:2379", usage: "URLs to serve clients (gRPC and HTTP) on."),
        .init(name: "advertise-client-urls", kind: .urls, defaultValue: "http://localhost:2379", usage: "Client URLs this member tells the cluster and clients about."),
        .init(name: "listen-peer-urls", kind: .urls, defaultValue: "http://localhost:2380", usage: "URLs to serve other members on."),
        .init(name: "initial-advertise-peer-urls", kind: .urls, defaultValue: "http://localhost:2380", usage: "Peer URLs this member announces to the cluster."),
        .init(name: "initial-cluster", kind: .string, defaultValue: "default=http://localhost:2380", usage: "Bootstrap members as name=peerURL, comma-separated."),
        .init(name: "initial-cluster-state", kind: .choice(["new", "existing"]), defaultValue: "new", usage: "'new' to bootstrap a cluster, 'existing' to join one."),
        .init(name: "initial-cluster-token", kind: .string, defaultValue: "etcd-cluster", usage: "Token that makes the ids of a new cluster unique."),
        .init(name: "snapshot-count", kind: .unsigned, defaultValue: "100000", usage: "Applied entries between two snapshots to disk."),
        .init(name: "experimental-snapshot-catchup-entries", kind: .unsigned, defaultValue: "5000", usage: "Number of entries for a slow follower to catch up after compacting the raft storage entries."),
        .init(name: "heartbeat-interval", kind: .unsigned, defaultValue: "100", usage: "Milliseconds between two leader heartbeats."),
        .init(name: "election-timeout", kind: .unsigned, defaultValue: "1000", usage: "Milliseconds without a heartbeat before a follower campaigns."),
        .init(name: "quota-backend-bytes", kind: .signed, defaultValue: "0", usage: "Backend size that raises the NOSPACE alarm (0: 2 GiB; negative: no quota)."),
        .init(name: "max-request-bytes", kind: .unsigned, defaultValue: "1572864", usage: "Largest client request accepted, in bytes."),
        .init(name: "max-txn-ops", kind: .unsigned, defaultValue: "128", usage: "Most operations allowed in one transaction."),
        .init(name: "auto-compaction-mode", kind: .string, defaultValue: "periodic", usage: "How auto-compaction-retention is read: periodic (time) or revision (count)."),
        .init(name: "auto-compaction-retention", kind: .string, defaultValue: "0", usage: "History kept by auto compaction: hours or a duration (\"30m\") when periodic, revisions when revision; 0 turns it off."),
        .init(name: "experimental-enable-lease-checkpoint", kind: .bool, defaultValue: "true", usage: "Have the leader checkpoint remaining lease TTLs through the log, so a restart or leader change does not renew leases (on by default in Keel, off in etcd 3.5)."),
        .init(name: "experimental-watch-progress-notify-interval", kind: .duration, defaultValue: "10m0s", usage: "How often a watcher that asked for progress notifications and saw no event hears the current revision."),
        .init(name: "lease-checkpoint-interval", kind: .duration, defaultValue: "5m0s", usage: "How often the leader checkpoints a lease's remaining TTL (Keel's own; etcd fixes it at 5m)."),
        .init(name: "experimental-peer-fault-injection", kind: .bool, defaultValue: "false", usage: "Serve POST /debug/peers/partition and /debug/peers/heal, which cut this member off from others as a network partition would (Keel's own; for tests)."),
        .init(name: "log-level", kind: .string, defaultValue: "info", usage: "Lowest level logged: debug, info, warn, error, panic or fatal."),
        .init(name: "logger", kind: .string, defaultValue: "zap", usage: "Log format; only 'zap' (JSON lines on stderr)."),
        .init(name: "enable-v2", kind: .bool, defaultValue: "false", usage: "Serve the v2 API; Keel accepts only false."),
        .init(name: "wal-io", kind: .string, defaultValue: "sync", usage: "WAL write path: sync (pwritev + fdatasync on the WAL's own thread), uring (io_uring, two batches on the disk at once) or auto (uring when the kernel allows it)."),
        .init(name: "config-file", kind: .string, defaultValue: "", usage: "Not supported by Keel: give settings as flags or ETCD_* variables."),
        .init(name: "version", kind: .bool, defaultValue: "false", usage: "Print the version and exit."),
    ]

    private static let byName: [String: FlagDefinition] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    static func lookup(_ name: String) -> FlagDefinition? { byName[name] }

    /// The text `--help` prints.
    static var usage: String {
        var lines = ["Usage:", "", "  keel [flags]", "", "Start a Keel member (a drop-in replacement for etcd v3).", "", "Flags (also set by ETCD_<NAME> environment variables):"]
        for flag in all {
            let shown = flag.name == "data-dir" ? "" : flag.defaultValue
            let value = flag.kind == .bool ? "" : " '\(shown)'"
            lines.append("  --\(flag.name)\(value)")
            lines.append("      \(flag.usage)")
        }
        lines.append("  -h, --help")
        lines.append("      Show this help.")
        return lines.joined(separator: "\n") + "\n"
    }
}

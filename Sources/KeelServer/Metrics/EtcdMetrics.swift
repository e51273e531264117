/// The metrics the node records, under etcd 3.5's names, help texts, types, label names and
/// bucket bounds (server/etcdserver/metrics.go, server/mvcc/metrics.go,
/// server/mvcc/backend/metrics.go, server/wal/metrics.go, api/membership/metrics.go,
/// etcdhttp/health.go), so etcd's Grafana dashboards and alert rules work against Keel.
///
/// Where etcd declares a gauge with a `_total` name (proposals committed and applied) it stays
/// a gauge here: dashboards query the TYPE etcd exposes.
public final class EtcdMetrics: Sendable {
    public let registry: MetricsRegistry

    /// etcd_disk_wal_fsync_duration_seconds: one observation per WAL fdatasync (seconds).
    public let walFsyncDuration: Histogram
    /// etcd_disk_backend_commit_duration_seconds: one observation per B+tree commit (seconds).
    public let backendCommitDuration: Histogram

    public let hasLeader: Gauge
    public let isLeader: Gauge
    public let leaderChangesSeen: Counter
    public let proposalsCommitted: Gauge
    public let proposalsApplied: Gauge
    public let proposalsPending: Gauge
    public let proposalsFailed: Counter
    public let slowApplies: Counter
    public let quotaBackendBytes: Gauge
    public let healthSuccesses: Counter
    public let healthFailures: Counter

    /// etcd_mvcc_db_total_size_in_bytes, read at scrape time from the function bound to it.
    public let dbTotalSizeBytes: ScrapedValue
    /// etcd_mvcc_db_total_size_in_use_in_bytes, read at scrape time.
    public let dbTotalSizeInUseBytes: ScrapedValue
    public let puts: Counter
    public let deletes: Counter
    public let ranges: Counter
    public let txns: Counter
    /// etcd_debugging_mvcc_watch_stream_total, _watcher_total and _slow_watcher_total: open
    /// watch streams, their watchers, and the watchers behind (read at scrape time).
    public let watchStreams: Gauge
    public let watchers: Gauge
    public let slowWatchers: Gauge

    /// etcd_server_id{server_id}: 1 for this member's id (lowercase hex, no padding).
    public let serverID: GaugeVec
    /// etcd_server_version{server_version}: 1 for the running version.
    public let serverVersion: GaugeVec
    /// etcd_cluster_version{cluster_version}: 1 for the current cluster version, 0 for earlier ones.
    public let clusterVersion: GaugeVec

    public let grpc: GRPCServerMetrics
    /// Keel's own: the built-in latency harness (keel_stage_duration_seconds, /debug/latency).
    public let stages: StageLatencies

    /// Declares every metric in `registry` (which must not hold any of these names yet),
    /// including client_golang's process collector figures read from /proc at scrape time.
    public init(registry: MetricsRegistry = MetricsRegistry()) {
        self.registry = registry
        let latencyBounds = Histogram.exponentialBounds(start: 0.001, factor: 2, count: 14)  // 1 ms ... 8.192 s
        walFsyncDuration = registry.histogram(
            "etcd_disk_wal_fsync_duration_seconds", help: "The latency distributions of fsync called by WAL.",
            buckets: latencyBounds)
        backendCommitDuration = registry.histogram(
            "etcd_disk_backend_commit_duration_seconds", help: "The latency distributions of commit called by backend.",
            buckets: latencyBounds)
        hasLeader = registry.gauge(
            "etcd_server_has_leader", help: "Whether or not a leader exists. 1 is existence, 0 is not.")
        isLeader = registry.gauge(
            "etcd_server_is_leader", help: "Whether or not this member is a leader. 1 if is, 0 otherwise.")
        leaderChangesSeen = registry.counter(
            "etcd_server_leader_changes_seen_total", help: "The number of leader changes seen.")
        proposalsCommitted = registry.gauge(
            "etcd_server_proposals_committed_total", help: "The total number of consensus proposals committed.")
        proposalsApplied = registry.gauge(
            "etcd_server_proposals_applied_total", help: "The total number of consensus proposals applied.")
        proposalsPending = registry.gauge(
            "etcd_server_proposals_pending", help: "The current number of pending proposals to commit.")
        proposalsFailed = registry.counter(
            "etcd_server_proposals_failed_total", help: "The total number of failed proposals seen.")
        slowApplies = registry.counter(
            "etcd_server_slow_apply_total", help: "The total number of slow apply requests (likely overloaded from slow disk).")
        quotaBackendBytes = registry.gauge(
            "etcd_server_quota_backend_bytes", help: "Current backend storage quota size in bytes.")
        healthSuccesses = registry.counter(
            "etcd_server_health_success", help: "The total number of successful health checks")
        healthFailures = registry.counter(
            "etcd_server_health_failures", help: "The total number of failed health checks")
        dbTotalSizeBytes = registry.gaugeFunction(
            "etcd_mvcc_db_total_size_in_bytes",
            help: "Total size of the underlying database physically allocated in bytes.")
        dbTotalSizeInUseBytes = registry.gaugeFunction(
            "etcd_mvcc_db_total_size_in_use_in_bytes", help: "Total size of the underlying database logically in use in bytes.")
        puts = registry.counter("etcd_mvcc_put_total", help: "Total number of puts seen by this member.")
        deletes = registry.counter("etcd_mvcc_delete_total", help: "Total number of deletes seen by this member.")
        ranges = registry.counter("etcd_mvcc_range_total", help: "Total number of ranges seen by this member.")
        txns = registry.counter("etcd_mvcc_txn_total", help: "Total number of txns seen by this member.")
        watchStreams = registry.gauge("etcd_debugging_mvcc_watch_stream_total", help: "Total number of watch streams.")
        watchers = registry.gauge("etcd_debugging_mvcc_watcher_total", help: "Total number of watchers.")
        slowWatchers = registry.gauge("etcd_debugging_mvcc_slow_watcher_total", help: "Total number of unsynced slow watchers.")
        serverID = registry.gauge(
            "etcd_server_id", help: "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
            labelNames: ["server_id"])
        serverVersion = registry.gauge(
            "etcd_server_version", help: "Which version is running. 1 for 'server_version' label with current version.",
            labelNames: ["server_version"])
        clusterVersion = registry.gauge(
            "etcd_cluster_version",
            help: "Which version is running. 1 for 'cluster_version' label with current cluster version",
            labelNames: ["cluster_version"])
        grpc = GRPCServerMetrics(registry: registry)
        stages = StageLatencies(registry: registry)
        Self.registerProcessMetrics(registry)
    }

    /// Marks `version` ("3.5.0") as the cluster version: its series 1, the previous one 0, as
    /// etcd keeps an old cluster version's series at 0 after an upgrade.
    public func setClusterVersion(_ version: String, previous: String?) {
        if let previous, previous != version { clusterVersion.labels(previous).set(0) }
        clusterVersion.labels(version).set(1)
    }

    private static func registerProcessMetrics(_ registry: MetricsRegistry) {
        // client_golang's process collector (the figures etcd's /metrics ends with).
        _ = registry.counterFunction("process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.") {
            ProcessStats.cpuSeconds ?? 0
        }
        _ = registry.gaugeFunction("process_resident_memory_bytes", help: "Resident memory size in bytes.") {
            ProcessStats.residentMemoryBytes ?? 0
        }
        _ = registry.gaugeFunction("process_virtual_memory_bytes", help: "Virtual memory size in bytes.") {
            ProcessStats.virtualMemoryBytes ?? 0
        }
        _ = registry.gaugeFunction("process_open_fds", help: "Number of open file descriptors.") {
            ProcessStats.openFileDescriptors ?? 0
        }
        _ = registry.gaugeFunction("process_max_fds", help: "Maximum number of open file descriptors.") {
            ProcessStats.maxFileDescriptors ?? 0
        }
        _ = registry.gaugeFunction(
            "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds."
        ) {
            ProcessStats.startTimeSeconds ?? 0
        }
    }
}

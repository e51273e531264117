extension ServerConfiguration {
    /// etcd's ceiling on `--election-timeout`, in milliseconds.
    static let electionTimeoutMillisecondsMax: UInt64 = 50_000

    /// Builds the typed configuration from checked flag texts and checks it as a whole, in the
    /// order etcd checks (logger, URLs, timeouts, advertise URLs, compaction, initial cluster).
    static func validated(_ values: FlagValues, notices: [ConfigurationNotice]) throws(ConfigurationError) -> ServerConfiguration {
        var notices = notices
        let logLevel = try readLogging(values)
        let urls = try readURLs(values)
        let heartbeat = unsigned(values, "heartbeat-interval")
        let election = unsigned(values, "election-timeout")
        try checkTimeouts(heartbeatMilliseconds: heartbeat, electionMilliseconds: election)
        if values.isSet("listen-client-urls") && !values.isSet("advertise-client-urls") {
            throw .invalid("--advertise-client-urls is required when --listen-client-urls is set explicitly")
        }
        let walIO = try readChoice(values, "wal-io", WALIOMode.init(rawValue:), accepted: WALIOMode.allCases.map(\.rawValue))
        if values["enable-v2"] == "true" {
            throw .invalid("--enable-v2=true is not supported: Keel serves only the v3 API")
        }
        if values.isSet("enable-v2") {
            notices.append(ConfigurationNotice(level: .warn, message: "--enable-v2 is deprecated in 3.5 and will be decommissioned in 3.6.", fields: []))
        }
        let maxRequestBytes = try positive(values, "max-request-bytes")
        let maxTxnOps = try positive(values, "max-txn-ops")
        let autoCompaction = try readAutoCompaction(values)
        let name = values["name"]
        let clusterText = initialClusterText(values, name: name, advertisePeerURLs: urls.advertisePeer)
        let state = InitialClusterState(rawValue: values["initial-cluster-state"]) ?? .new
        let cluster = try InitialClusterParser.members(clusterText, name: name, state: state, advertisePeerURLs: urls.advertisePeer)
        var dataDirectory = values["data-dir"]
        if dataDirectory.isEmpty {
            dataDirectory = name + ".keel"
            notices.append(ConfigurationNotice(level: .warn, message: "'data-dir' was empty; using default", fields: [.string("data-dir", dataDirectory)]))
        }
        var snapshotCount = unsigned(values, "snapshot-count")
        if snapshotCount == 0 {
            snapshotCount = defaultSnapshotCount
            notices.append(ConfigurationNotice(level: .info, message: "updating snapshot-count to default",
                                               fields: [.int("given-snapshot-count", 0), .int("updated-snapshot-count", defaultSnapshotCount)]))
        }
        let walDirectory = values["wal-dir"]
        let progressInterval = try positiveDuration(values, "experimental-watch-progress-notify-interval")
        let checkpointInterval = try positiveDuration(values, "lease-checkpoint-interval")
        return ServerConfiguration(
            name: name, dataDirectory: dataDirectory, dedicatedWALDirectory: walDirectory.isEmpty ? nil : walDirectory,
            listenClientURLs: urls.listenClient, advertiseClientURLs: urls.advertiseClient,
            listenPeerURLs: urls.listenPeer, initialAdvertisePeerURLs: urls.advertisePeer,
            initialCluster: cluster, initialClusterState: state, initialClusterToken: values["initial-cluster-token"],
            snapshotCount: snapshotCount, snapshotCatchUpEntries: unsigned(values, "experimental-snapshot-catchup-entries"),
            heartbeatIntervalMilliseconds: heartbeat, electionTimeoutMilliseconds: election,
            quotaBackendBytesFlag: signed(values, "quota-backend-bytes"), maxRequestBytes: maxRequestBytes, maxTxnOps: maxTxnOps,
            autoCompaction: autoCompaction, logLevel: logLevel, walIO: walIO,
            watchProgressNotifyIntervalNanoseconds: progressInterval,
            leaseCheckpointsEnabled: values["experimental-enable-lease-checkpoint"] == "true",
            leaseCheckpointIntervalNanoseconds: checkpointInterval,
            peerFaultInjection: values["experimental-peer-fault-injection"] == "true", notices: notices)
    }

    private static func readLogging(_ values: FlagValues) throws(ConfigurationError) -> LogLevel {
        switch values["logger"] {
        case "zap": break
        case "capnslog": throw .invalid("--logger=capnslog is removed in v3.5")
        case let other: throw .invalid("unknown logger option \(GoCommandLine.goQuoted(other)) (accepted: zap)")
        }
        return try readChoice(values, "log-level", LogLevel.init(flagValue:), accepted: LogLevel.allCases.map(\.description))
    }

    private static func readChoice<T>(_ values: FlagValues, _ flag: String, _ make: (String) -> T?, accepted: [String]) throws(ConfigurationError) -> T {
        let text = values[flag]
        guard let value = make(text) else {
            throw .invalid("unknown --\(flag) \(GoCommandLine.goQuoted(text)) (accepted: \(accepted.joined(separator: ", ")))")
        }
        return value
    }

    private static func checkTimeouts(heartbeatMilliseconds tick: UInt64, electionMilliseconds election: UInt64) throws(ConfigurationError) {
        if tick == 0 { throw .invalid("--heartbeat-interval must be >0 (set to \(tick)ms)") }
        if election == 0 { throw .invalid("--election-timeout must be >0 (set to \(election)ms)") }
        if tick.multipliedReportingOverflow(by: 5).overflow || 5 * tick > election {
            throw .invalid("--election-timeout[\(election)ms] should be at least as 5 times as --heartbeat-interval[\(tick)ms]")
        }
        if election > electionTimeoutMillisecondsMax {
            throw .invalid("--election-timeout[\(election)ms] is too long, and should be set less than \(electionTimeoutMillisecondsMax)ms")
        }
    }

    /// `--initial-cluster`, or, as etcd does when only `--name` changed, "<name>=<url>" for
    /// each `--initial-advertise-peer-urls` URL. etcd compares the value with its default
    /// rather than asking whether the flag was given; so does Keel.
    private static func initialClusterText(_ values: FlagValues, name: String, advertisePeerURLs: [ConfiguredURL]) -> String {
        let text = values["initial-cluster"]
        guard name != "default", text == FlagTable.lookup("initial-cluster")?.defaultValue else { return text }
        // An empty --name still writes "default" into the list, so the name is then not found.
        let listed = name.isEmpty ? "default" : name
        return advertisePeerURLs.map { "\(listed)=\($0)" }.joined(separator: ",")
    }

    private static func unsigned(_ values: FlagValues, _ flag: String) -> UInt64 {
        guard case .success(let value) = GoNumbers.parseUnsigned(values[flag]) else {
            preconditionFailure("--\(flag) was stored without being checked")
        }
        return value
    }

    private static func signed(_ values: FlagValues, _ flag: String) -> Int64 {
        guard case .success(let value) = GoNumbers.parseSigned(values[flag]) else {
            preconditionFailure("--\(flag) was stored without being checked")
        }
        return value
    }

    /// A duration flag that must be > 0; the refusal names the value as Go prints durations.
    private static func positiveDuration(_ values: FlagValues, _ flag: String) throws(ConfigurationError) -> Int64 {
        guard case .success(let nanoseconds) = GoDuration.parse(values[flag]) else {
            preconditionFailure("--\(flag) was stored without being checked")
        }
        if nanoseconds <= 0 { throw .invalid("--\(flag) must be >0 (set to \(GoDuration.format(nanoseconds: nanoseconds)))") }
        return nanoseconds
    }

    private static func positive(_ values: FlagValues, _ flag: String) throws(ConfigurationError) -> UInt64 {
        let value = unsigned(values, flag)
        if value == 0 { throw .invalid("--\(flag) must be >0 (set to 0)") }
        return value
    }
}

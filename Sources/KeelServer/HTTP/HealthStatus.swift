/// The answer of the node's health check, as etcd 3.5's `/health` reports it.
public struct HealthStatus: Sendable, Equatable {
    public var healthy: Bool
    /// Why the member is unhealthy, in etcd's words: "ALARM NOSPACE", "ALARM CORRUPT",
    /// "RAFT NO LEADER", "RANGE ERROR:<error>". Empty when healthy.
    public var reason: String

    public init(healthy: Bool, reason: String = "") {
        self.healthy = healthy
        self.reason = reason
    }

    /// `{"health":"true","reason":""}`: etcd's `Health` struct through json.Marshal (the health
    /// flag is a string, and the reason is always present).
    var json: String {
        GoJSON.object([("health", GoJSON.quoted(healthy ? "true" : "false")), ("reason", GoJSON.quoted(reason))])
    }
}

/// The options of a `/health` request (its query string), as etcd 3.5 reads them.
public struct HealthQuery: Sendable, Equatable {
    /// `serializable=true`: check this member only (a local read, no leader needed), as
    /// liveness probes ask.
    public var serializable: Bool
    /// Every non-empty `exclude=` value: alarm names (`NOSPACE`, `CORRUPT`) not to count as
    /// unhealthy.
    public var excludedAlarms: Set<String>

    public init(serializable: Bool = false, excludedAlarms: Set<String> = []) {
        self.serializable = serializable
        self.excludedAlarms = excludedAlarms
    }
}

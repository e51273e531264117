/// One typed key/value pair of a log event, written after "msg" in the order given.
public struct LogField: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case string(String)
        case int(Int64)
        case uint(UInt64)
        case bool(Bool)
        case strings([String])
        /// Written as Go's `Duration.String()` ("1.5s", "100ms"), as etcd's zap config does.
        case duration(Duration)
    }

    public let key: String
    public let value: Value

    public init(key: String, value: Value) {
        self.key = key
        self.value = value
    }

    public static func string(_ key: String, _ value: String) -> LogField { LogField(key: key, value: .string(value)) }
    public static func int<T: BinaryInteger>(_ key: String, _ value: T) -> LogField {
        if let signed = Int64(exactly: value) { return LogField(key: key, value: .int(signed)) }
        return LogField(key: key, value: .uint(UInt64(truncatingIfNeeded: value)))
    }
    public static func bool(_ key: String, _ value: Bool) -> LogField { LogField(key: key, value: .bool(value)) }
    public static func strings(_ key: String, _ value: [String]) -> LogField { LogField(key: key, value: .strings(value)) }
    public static func duration(_ key: String, _ value: Duration) -> LogField { LogField(key: key, value: .duration(value)) }
    /// zap's `zap.Error`: the key "error" and the error's description.
    public static func error(_ error: any Error) -> LogField { LogField(key: "error", value: .string(String(describing: error))) }
}

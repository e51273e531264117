/// The levels `--log-level` accepts, in zap's order; a logger writes an event when its level is
/// at or above the configured one.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case debug, info, warn, error, panic, fatal

    /// Parses a `--log-level` value (lower case, as etcd's help lists them).
    public init?(flagValue: String) {
        guard let level = LogLevel.allCases.first(where: { $0.description == flagValue }) else { return nil }
        self = level
    }

    /// The name written in the "level" key, as zap's lowercase level encoder writes it.
    public var description: String {
        switch self {
        case .debug: return "debug"
        case .info: return "info"
        case .warn: return "warn"
        case .error: return "error"
        case .panic: return "panic"
        case .fatal: return "fatal"
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

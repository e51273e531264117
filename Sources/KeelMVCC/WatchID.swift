/// A watcher's id, unique within its stream (etcd's watch_id). The client picks it or the
/// engine assigns the lowest free one from 0 up.
public struct WatchID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ value: Int64) { self.rawValue = value }
    /// etcd's InvalidWatchID: the id of a stream-wide progress response.
    public static let invalid = WatchID(-1)
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// What a WatchCreateRequest asks for, with etcd's meaning.
public struct WatchCreateRequest: Sendable, Hashable {
    public var key: [UInt8]
    /// Range's rules: nil watches `key` alone; `[0]` every key `>= key`; otherwise `[key, end)`.
    public var end: [UInt8]?
    /// The first revision to report; 0 means "from the next revision on". At or below the
    /// compact revision, the watcher gets a compacted response and is canceled.
    public var startRevision: Int64
    public var filters: WatchFilters
    /// Each event carries the key's previous version (when it is still in history).
    public var prevKV: Bool
    /// Receive a progress response at the server's interval when no event came meanwhile.
    public var progressNotify: Bool
    /// The id the client chose, nil to let the engine assign one (etcd's watch_id 0 means the
    /// same; the API layer maps it).
    public var id: WatchID?

    public init(key: [UInt8], end: [UInt8]? = nil, startRevision: Int64 = 0, filters: WatchFilters = [],
                prevKV: Bool = false, progressNotify: Bool = false, id: WatchID? = nil) {
        self.key = key
        self.end = end
        self.startRevision = startRevision
        self.filters = filters
        self.prevKV = prevKV
        self.progressNotify = progressNotify
        self.id = id
    }
}

/// etcd's NOPUT and NODELETE.
public struct WatchFilters: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let noPut = WatchFilters(rawValue: 1)
    public static let noDelete = WatchFilters(rawValue: 2)
}

/// Why a watcher was not created; `description` is etcd's message.
public enum WatchRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    case duplicateID(WatchID)
    /// `end` is not above `key`.
    case emptyRange
    case streamClosed

    public var description: String {
        switch self {
        case .duplicateID: "mvcc: duplicate watch ID provided on the WatchStream"
        case .emptyRange: "mvcc: watcher range is empty"
        case .streamClosed: "mvcc: watch stream closed"
        }
    }
}

/// The workloads of `keel-bench storage`, in the order they run and are reported.
enum StorageWorkload: String, CaseIterable, Sendable {
    /// Puts per write transaction in the load and update phases.
    static let putsPerCommit = 1000
    /// Gets per read transaction in the get phases.
    static let getsPerTransaction = 1000

    case load
    case scan
    case get1 = "get1Thread"
    case get2 = "get2Threads"
    case update

    var title: String {
        switch self {
        case .load: "load, \(Self.putsPerCommit) puts/commit"
        case .scan: "scan (keys/s)"
        case .get1: "get, 1 thread"
        case .get2: "get, 2 threads"
        case .update: "update, \(Self.putsPerCommit) puts/commit"
        }
    }
}

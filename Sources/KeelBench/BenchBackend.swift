import ArgumentParser
import KeelIO

/// The WAL backends `keel-bench wal` can measure. `auto` is not offered: a report must say
/// which system calls it measured.
enum BenchBackend: String, ExpressibleByArgument, Sendable, CaseIterable {
    case uring
    case sync

    var choice: IOBackendChoice {
        switch self {
        case .uring: return .uring
        case .sync: return .sync
        }
    }

    var backend: IOBackend {
        switch self {
        case .uring: return .uring
        case .sync: return .sync
        }
    }
}

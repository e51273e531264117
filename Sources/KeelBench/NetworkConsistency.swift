import ArgumentParser

/// A read's consistency, spelled as etcd's benchmark spells it: `l` linearizable (ReadIndex
/// through the leader), `s` serializable (the member's local state).
enum NetworkConsistency: String, ExpressibleByArgument, Sendable {
    case l, s

    var serializable: Bool { self == .s }
    var name: String { self == .s ? "serializable" : "linearizable" }
}

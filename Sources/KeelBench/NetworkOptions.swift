import ArgumentParser

/// The flags every network workload shares (`keel-bench put|range|txn-put|txn-mixed|watch|
/// lease-keepalive`), named as etcd's `benchmark` names them where it has them.
struct NetworkOptions: ParsableArguments {
    @Option(help: "Comma-separated endpoints, host:port or http://host:port; connections go round robin over them.")
    var endpoints = "127.0.0.1:2379"
    @Option(help: "HTTP/2 connections.")
    var conns = 1
    @Option(help: "Concurrent clients (calls in flight), spread over the connections.")
    var clients = 1
    @Option(help: "Requests in total (10000 when neither --total nor --duration is given).")
    var total: Int?
    @Option(help: "Run for this many seconds instead of a --total.")
    var duration: Double?
    @Option(help: "Requests per second over all clients together; 0 sends as fast as answers come.")
    var rate = 0
    @Option(help: "Key size in bytes.")
    var keySize = 8
    @Option(help: "Value size in bytes.")
    var valSize = 8
    @Option(help: "Distinct keys used.")
    var keySpaceSize = 1
    @Flag(help: "Use the keys in order instead of at random.")
    var sequentialKeys = false
    @Option(help: "Seed of the random keys (and of txn-mixed's read/write draw).")
    var seed: UInt64 = 1
    @Flag(help: "Print one JSON object instead of the table.")
    var json = false
    @Option(help: "Also write a self-contained HTML report (tables and SVG plots) to this file.")
    var report: String?

    static let defaultTotal = 10_000
    static let durationSecondsMax = 86_400.0

    func validate() throws {
        guard conns >= 1 && conns <= 1024 else { throw ValidationError("--conns must be in 1...1024") }
        guard clients >= conns && clients <= 100_000 else { throw ValidationError("--clients must be in --conns...100000") }
        if total != nil && duration != nil { throw ValidationError("give --total or --duration, not both") }
        if let total, total < 1 { throw ValidationError("--total must be at least 1") }
        if let duration, !(duration > 0 && duration <= Self.durationSecondsMax) {
            throw ValidationError("--duration must be in (0, 86400] seconds")
        }
        guard rate >= 0 else { throw ValidationError("--rate must be 0 (unlimited) or positive") }
        guard keySize >= 1 && keySize <= 1 << 20, valSize >= 0 && valSize <= 1 << 21 else {
            throw ValidationError("--key-size must be in 1...1048576 and --val-size in 0...2097152")
        }
        guard keySpaceSize >= 1 else { throw ValidationError("--key-space-size must be at least 1") }
        if endpoints.contains("https://") { throw ValidationError("--endpoints: TLS (https://) is not supported") }
        guard !targets.isEmpty, targets.count == endpoints.split(separator: ",").count else {
            throw ValidationError("--endpoints must be a comma list of host:port (optionally http://host:port)")
        }
    }

    /// The endpoints as host and port, in the order given.
    var targets: [(host: String, port: Int)] {
        endpoints.split(separator: ",").compactMap { endpoint in
            var text = endpoint.drop { $0 == " " }
            if text.hasPrefix("http://") { text = text.dropFirst(7) }
            while text.hasSuffix("/") { text = text.dropLast() }
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                  port > 0 && port < 65536, colon > text.startIndex else { return nil }
            return (String(text[..<colon]), port)
        }
    }

    var keySpace: NetworkKeySpace {
        NetworkKeySpace(size: keySpaceSize, keyBytes: keySize, sequential: sequentialKeys, seed: seed)
    }

    /// When the run stops: after a number of requests or after a time.
    var stop: NetworkStop {
        if let duration { return .after(nanoseconds: UInt64(duration * 1e9)) }
        return .total(total ?? Self.defaultTotal)
    }

    /// The run's parameters as reports show them, in a stable order.
    var parameters: [(String, String)] {
        var list: [(String, String)] = [("endpoints", endpoints), ("conns", String(conns)), ("clients", String(clients))]
        if let duration { list.append(("duration", Format.fixed(duration, decimals: 1) + " s")) }
        else { list.append(("total", String(total ?? Self.defaultTotal))) }
        list += [("rate", rate == 0 ? "unlimited" : "\(rate)/s"), ("key size", "\(keySize) B"), ("value size", "\(valSize) B"),
                 ("key space", String(keySpaceSize)), ("keys", sequentialKeys ? "sequential" : "random, seed \(seed)")]
        return list
    }
}

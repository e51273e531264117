import ArgumentParser
import KeelAPI

/// `keel-bench watch`: watchers on the key space, then puts into it; measures how fast
/// events are delivered and how long a put takes to arrive as an event.
struct NetworkWatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch keys over the etcd v3 API while putting them: event delivery rate and put-to-event latency.",
        discussion: """
        Opens --streams Watch streams (round robin over the connections) and creates \
        --watchers watchers over them, watcher w on stream w mod S watching the single key \
        of slot w mod --key-space-size. Once every watcher is created, --clients clients put \
        --puts values (or put for --duration) into the key space, chosen as in `put`; a put to \
        a slot is delivered once to each watcher of that slot, so with W watchers over K keys \
        each put makes W/K events (rounded per slot). Each value starts with its put's send \
        time, so an event's latency is its arrival time minus that: the put's commit plus the \
        delivery. "requests" counts events delivered; events missing after the puts answered \
        (waiting up to 10 s) count as failures. Values are at least 8 bytes.
        """
    )

    @OptionGroup var options: NetworkOptions
    @Option(help: "Watchers in total.")
    var watchers = 100
    @Option(help: "Watch streams the watchers are spread over.")
    var streams = 10
    @Option(help: "Puts in total (instead of --total; --duration puts for that long instead).")
    var puts = 1000

    func validate() throws {
        guard options.total == nil else { throw ValidationError("watch counts its puts with --puts, not --total") }
        guard watchers >= 1 && watchers <= 1_000_000 else { throw ValidationError("--watchers must be in 1...1000000") }
        guard streams >= 1 && streams <= watchers else { throw ValidationError("--streams must be in 1...--watchers") }
        guard puts >= 1 else { throw ValidationError("--puts must be at least 1") }
        guard options.valSize >= NetworkWatchRun.stampBytes else {
            throw ValidationError("--val-size must be at least 8 for watch: each value carries its put's send time")
        }
    }

    func run() throws {
        let connections = try NetworkConnections(options)
        defer { connections.close() }
        let stop: NetworkStop = options.duration == nil ? .total(puts) : options.stop
        let run = NetworkWatchRun(options: options, connections: connections.clients, watchers: watchers,
                                  streams: streams, stop: stop)
        var result = try run.run()
        result.parameters += [("watchers", String(watchers)), ("streams", String(streams))]
        if options.duration == nil {
            result.parameters = result.parameters.map { $0.0 == "total" ? ("puts", String(puts)) : $0 }
        }
        try result.emit(options)
    }
}

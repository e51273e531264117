import Foundation
import KeelAPI
import KeelMVCC
import NIOCore

/// One client Watch stream (a gRPC Watch call or a gateway /v3/watch request) as etcd 3.5's
/// `serverWatchStream` serves it: many watchers over one `WatchStream` of the node's hub.
///
/// - Requests: create (etcd's key rules, watch_id 0 = the server picks, an explicit id in use
///   is refused), cancel (answered only when the watcher exists), progress (one response with
///   watch_id -1 once every watcher of the stream is synced).
/// - Responses go out as the transport can take them: the session takes from the hub's
///   bounded queue only while the sink is writable and resumes on writability, so a slow client
///   fills its own queue, its watchers fall back to history, and nothing else waits on it.
///
/// Threads: every method runs on `eventLoop` (the hub's wake-up hops there); the mutable state
/// is touched only there.
final class WatchSession: @unchecked Sendable {
    // @unchecked: the vars below are confined to `eventLoop` (checked on each entry).
    /// Responses taken from the hub per turn of the loop before yielding to other channels.
    static let responsesPerTurnMax = 256
    static let takeBatch = 32
    /// Enough to take a whole stream queue at once (the hub bounds it far below this).
    static let takeAllMax = 1 << 30
    /// Above this many waiting responses a refusal no longer pulls the hub's queue ahead of it.
    static let outboxTakingMax = 256

    private let node: KeelNode
    private let eventLoop: any EventLoop
    private let sink: any WatchResponseSink
    /// etcd fragments at --max-request-bytes plus gRPC's 512 KiB allowance.
    private let fragmentBytesMax: Int
    private var stream: WatchStream?
    /// Responses ready to send ahead of the hub's queue: a refused create (made here, not by
    /// the hub) goes in after everything the hub had queued before it, so the client sees its
    /// creates answered in request order as etcd answers them (see `outboxTakingMax`).
    private var outbox: [Etcdserverpb_WatchResponse] = []
    private var fragmented: Set<WatchID> = []

    init(node: KeelNode, eventLoop: any EventLoop, sink: any WatchResponseSink) {
        self.node = node
        self.eventLoop = eventLoop
        self.sink = sink
        fragmentBytesMax = node.options.limits.maxRequestBytes + 512 * 1024
        stream = node.keySpace.watches.openStream { [weak self] in self?.scheduleDrain() }
        sink.onWritabilityChanged { [weak self] writable in
            if writable { self?.drain() }
        }
    }

    /// One client request.
    func receive(_ request: Etcdserverpb_WatchRequest) {
        eventLoop.preconditionInEventLoop()
        guard let stream else { return }
        switch request.requestUnion {
        case .createRequest(let create): self.create(create, on: stream)
        case .cancelRequest(let cancel):
            let id = WatchID(cancel.watchID)
            if stream.cancel(id) { fragmented.remove(id) }
        case .progressRequest: stream.requestProgress()
        case nil: break
        }
    }

    /// The client went away (reset, connection lost): its watchers are released.
    func close() {
        eventLoop.preconditionInEventLoop()
        stream?.close()
        stream = nil
        outbox = []
    }

    private func create(_ wire: Etcdserverpb_WatchCreateRequest, on stream: WatchStream) {
        // etcd refuses a negative start revision before anything else, as compacted.
        if wire.startRevision < 0 {
            return refuse(reason: EtcdError.compacted.message)
        }
        var request = WatchCreateRequest(key: wire.key.isEmpty ? [0] : [UInt8](wire.key))
        if !wire.rangeEnd.isEmpty { request.end = [UInt8](wire.rangeEnd) }
        request.startRevision = wire.startRevision
        for filter in wire.filters {
            switch filter {
            case .noput: request.filters.insert(.noPut)
            case .nodelete: request.filters.insert(.noDelete)
            case .UNRECOGNIZED: break
            }
        }
        request.prevKV = wire.prevKv
        request.progressNotify = wire.progressNotify
        request.id = wire.watchID == 0 ? nil : WatchID(wire.watchID)
        switch stream.create(request) {
        case .success(let id):
            if wire.fragment { fragmented.insert(id) } else { fragmented.remove(id) }
        case .failure(.streamClosed): break
        case .failure(let refusal): refuse(reason: refusal.description)
        }
    }

    /// etcd's answer to a create it refused: created and canceled at once, watch_id -1.
    private func refuse(reason: String) {
        var response = Etcdserverpb_WatchResponse()
        response.header = node.header()
        response.watchID = WatchID.invalid.rawValue
        response.created = true
        response.canceled = true
        response.cancelReason = reason
        // Past `outboxTakingMax` (a client sending refused creates without reading) the hub's
        // queue stays where it is, bounded there: what waits here then grows only with what
        // the client sends, never by a stream queue per request.
        if let stream, outbox.count < Self.outboxTakingMax {
            for queued in stream.take(max: Self.takeAllMax) { outbox += wire(queued) }
        }
        outbox.append(response)
        drain()
    }

    private func scheduleDrain() {
        eventLoop.execute { [self] in drain() }
    }

    /// Sends what is waiting while the sink is writable; stops when it is not (its
    /// writability callback resumes) or after `responsesPerTurnMax` (a later turn resumes).
    private func drain() {
        eventLoop.preconditionInEventLoop()
        guard let stream else { return }
        var sent = 0
        while sink.isWritable {
            guard sent < Self.responsesPerTurnMax else {
                eventLoop.execute { [self] in drain() }
                return
            }
            if !outbox.isEmpty {
                sink.send(outbox.removeFirst())
                sent += 1
                continue
            }
            // `take` returning nothing re-arms the hub's wake-up for the next response.
            let batch = stream.take(max: Self.takeBatch)
            if batch.isEmpty { return }
            for response in batch {
                for piece in wire(response) { sink.send(piece) }
            }
            sent += batch.count
        }
    }

    /// A hub response in wire form: one message, or etcd's fragments of it for a watcher
    /// created with `fragment`.
    private func wire(_ response: WatchResponse) -> [Etcdserverpb_WatchResponse] {
        let message = Etcdserverpb_WatchResponse(response, node: node)
        switch response.kind {
        case .canceled, .compacted: fragmented.remove(response.watchID)
        case .events where fragmented.contains(response.watchID):
            return WatchFragments.split(message, bytesMax: fragmentBytesMax)
        default: break
        }
        return [message]
    }
}

extension Etcdserverpb_WatchResponse {
    /// The wire form of one hub response, as etcd's send loop builds it.
    init(_ response: WatchResponse, node: KeelNode) {
        self.init()
        watchID = response.watchID.rawValue
        switch response.kind {
        case .created: created = true
        case .events: events = response.events.map { Mvccpb_Event($0) }
        case .progress: break
        case .canceled(let reason):
            canceled = true
            cancelReason = reason
        case .compacted(let compactRevision):
            canceled = true
            self.compactRevision = compactRevision
        }
        // etcd's compacted response carries no revision (its header says 0).
        if case .compacted = response.kind {
            header = node.header(revision: 0)
        } else {
            header = node.header(revision: response.revision)
        }
    }
}

extension Mvccpb_Event {
    init(_ event: Event) {
        self.init()
        type = event.kind == .put ? .put : .delete
        kv = Mvccpb_KeyValue(event.kv)
        if let previous = event.prevKV { prevKv = Mvccpb_KeyValue(previous) }
    }
}

import FoundationEssentials
import KeelAPI
import NIOCore
import Synchronization

/// A dictionary-backed KV service on etcd's paths, for testing the transport: Range of one key,
/// Put (completed later from another thread, as the node's apply loop will), an echoing Watch,
/// and a Snapshot that streams chunks as fast as the stream's writability allows.
final class TestKVService: Sendable {
    private struct State {
        var values: [Data: Mvccpb_KeyValue] = [:]
        var revision: Int64 = 1
        var paths: [String] = []
    }

    static let snapshotChunks = 64
    static let snapshotChunkBytes = 64 * 1024

    private let state = Mutex(State())
    /// Stands in for the node's apply thread: Put replies are sent from it.
    private let applyLoop: any EventLoop
    /// How often a Snapshot stream reported "not writable" to its sender.
    let snapshotPauses = Atomic<Int>(0)
    /// Watch streams whose handler heard `.cancelled`.
    let watchCancellations = Atomic<Int>(0)

    init(applyLoop: any EventLoop) {
        self.applyLoop = applyLoop
    }

    /// Every path called so far, in call order.
    var calledPaths: [String] { state.withLock { $0.paths } }

    var methods: GRPCMethodTable {
        var table = GRPCMethodTable()
        table.addUnary("/etcdserverpb.KV/Range") { [self] (request: Etcdserverpb_RangeRequest, _, reply) in
            reply.succeed(range(request))
        }
        table.addUnary("/etcdserverpb.KV/Put") { [self] (request: Etcdserverpb_PutRequest, _, reply) in
            applyLoop.execute { reply.succeed(self.put(request)) }
        }
        // Without a key: an etcd-style error. With one: answers only after the call's deadline
        // (or at once without one), so the transport's DEADLINE_EXCEEDED must win.
        table.addUnary("/etcdserverpb.KV/DeleteRange") {
            (request: Etcdserverpb_DeleteRangeRequest, context, reply: GRPCReply<Etcdserverpb_DeleteRangeResponse>) in
            guard !request.key.isEmpty else {
                return reply.fail(GRPCStatus(.invalidArgument, "etcdserver: key is not provided (100% ✓)"))
            }
            guard let deadline = context.deadline else { return reply.succeed(.init()) }
            context.eventLoop.scheduleTask(deadline: deadline + .milliseconds(100)) {
                reply.succeed(.init())
            }
        }
        table.addBidirectionalStreaming("/etcdserverpb.Watch/Watch") { [self] (_, stream) in
            record("/etcdserverpb.Watch/Watch")
            var watchID: Int64 = 0
            return { (event: GRPCInboundEvent<Etcdserverpb_WatchRequest>) in
                switch event {
                case .message(let request):
                    guard case .createRequest(let create) = request.requestUnion else { return }
                    var response = Etcdserverpb_WatchResponse()
                    response.watchID = watchID
                    response.created = true
                    var echoed = Mvccpb_Event()
                    echoed.kv.key = create.key
                    response.events = [echoed]
                    watchID += 1
                    stream.send(response)
                case .end: stream.finish()
                case .cancelled: self.watchCancellations.add(1, ordering: .relaxed)
                }
            }
        }
        table.addServerStreaming("/etcdserverpb.Maintenance/Snapshot") {
            [self] (_: Etcdserverpb_SnapshotRequest, _, stream: GRPCServerStream<Etcdserverpb_SnapshotResponse>) in
            record("/etcdserverpb.Maintenance/Snapshot")
            let sender = SnapshotSender(stream: stream, service: self)
            stream.onWritabilityChanged { writable in
                if writable { sender.pump() }
            }
            sender.pump()
        }
        return table
    }

    private func record(_ path: String) {
        state.withLock { $0.paths.append(path) }
    }

    private func range(_ request: Etcdserverpb_RangeRequest) -> Etcdserverpb_RangeResponse {
        state.withLock { state in
            state.paths.append("/etcdserverpb.KV/Range")
            var response = Etcdserverpb_RangeResponse()
            response.header.revision = state.revision
            if let kv = state.values[request.key] {
                response.kvs = [kv]
                response.count = 1
            }
            return response
        }
    }

    private func put(_ request: Etcdserverpb_PutRequest) -> Etcdserverpb_PutResponse {
        state.withLock { state in
            state.paths.append("/etcdserverpb.KV/Put")
            state.revision += 1
            var response = Etcdserverpb_PutResponse()
            response.header.revision = state.revision
            let previous = state.values[request.key]
            if request.prevKv, let previous { response.prevKv = previous }
            var kv = Mvccpb_KeyValue()
            kv.key = request.key
            kv.value = request.value
            kv.modRevision = state.revision
            kv.createRevision = previous?.createRevision ?? state.revision
            kv.version = (previous?.version ?? 0) + 1
            state.values[request.key] = kv
            return response
        }
    }
}

/// Sends the snapshot's chunks while the stream is writable; `pump` runs again when the
/// stream becomes writable. Each chunk's first byte is its index, so order can be checked.
private final class SnapshotSender: @unchecked Sendable {
    // Touched only on the stream's event loop: the handler and writability callbacks run there.
    private let stream: GRPCServerStream<Etcdserverpb_SnapshotResponse>
    private let service: TestKVService
    private var sent = 0

    init(stream: GRPCServerStream<Etcdserverpb_SnapshotResponse>, service: TestKVService) {
        self.stream = stream
        self.service = service
    }

    func pump() {
        while sent < TestKVService.snapshotChunks {
            guard stream.isWritable else {
                service.snapshotPauses.add(1, ordering: .relaxed)
                return
            }
            var chunk = Etcdserverpb_SnapshotResponse()
            chunk.blob = Data(repeating: UInt8(sent), count: TestKVService.snapshotChunkBytes)
            chunk.remainingBytes = UInt64((TestKVService.snapshotChunks - sent - 1) * TestKVService.snapshotChunkBytes)
            stream.send(chunk)
            sent += 1
        }
        if sent == TestKVService.snapshotChunks {
            sent += 1
            stream.finish()
        }
    }
}

import Foundation
import KeelAPI
import KeelMVCC
import KeelStorage
import NIOCore
import NIOPosix

/// etcdserverpb.Maintenance: Status, Hash, HashKV, Defragment, Snapshot, Alarm, MoveLeader.
///
/// The calls that read the whole backend (Hash, HashKV, Defragment, Snapshot) run on the
/// blocking pool, never on an event loop.
struct MaintenanceService: Sendable {
    let node: KeelNode
    let pool: NIOThreadPool
    /// Bytes per Snapshot message (etcd sends 32 KiB).
    static let snapshotChunkBytes = 32 * 1024

    func register(in routes: inout ServiceRoutes) {
        routes.unary(EtcdMethod.named("/etcdserverpb.Maintenance/Status")) { (_: Etcdserverpb_StatusRequest, _, reply: GRPCReply<Etcdserverpb_StatusResponse>) in
            reply.succeed(node.status())
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Maintenance/Hash")) { (_: Etcdserverpb_HashRequest, context, reply: GRPCReply<Etcdserverpb_HashResponse>) in
            blocking(context.eventLoop, reply) {
                var response = Etcdserverpb_HashResponse()
                response.hash = try node.keySpace.store.hash()
                response.header = node.header()
                return response
            }
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Maintenance/HashKV")) { (request: Etcdserverpb_HashKVRequest, context, reply: GRPCReply<Etcdserverpb_HashKVResponse>) in
            blocking(context.eventLoop, reply) {
                switch node.keySpace.store.hashKV(request.revision) {
                case .failure(let refusal): throw EtcdError(refusal)
                case .success(let hash):
                    var response = Etcdserverpb_HashKVResponse()
                    response.hash = hash.hash
                    response.compactRevision = hash.compactRevision
                    response.header = node.header(revision: hash.currentRevision)
                    return response
                }
            }
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Maintenance/Defragment")) { (_: Etcdserverpb_DefragmentRequest, context, reply: GRPCReply<Etcdserverpb_DefragmentResponse>) in
            blocking(context.eventLoop, reply) {
                try node.defragment()
                var response = Etcdserverpb_DefragmentResponse()
                response.header = node.header()
                return response
            }
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Maintenance/Alarm")) { (request: Etcdserverpb_AlarmRequest, context, reply: GRPCReply<Etcdserverpb_AlarmResponse>) in
            alarm(request, context, reply)
        }
        routes.unary(EtcdMethod.named("/etcdserverpb.Maintenance/MoveLeader")) { (request: Etcdserverpb_MoveLeaderRequest, _, reply: GRPCReply<Etcdserverpb_MoveLeaderResponse>) in
            if let refusal = node.moveLeader(to: request.targetID) { return reply.fail(refusal.status) }
            var response = Etcdserverpb_MoveLeaderResponse()
            response.header = node.header()
            reply.succeed(response)
        }
        routes.serverStreaming(EtcdMethod.named("/etcdserverpb.Maintenance/Snapshot")) { (_: Etcdserverpb_SnapshotRequest, call, stream: GRPCServerStream<Etcdserverpb_SnapshotResponse>) in
            snapshot(call.eventLoop, stream)
        }
    }

    private func alarm(_ request: Etcdserverpb_AlarmRequest, _ context: RequestContext,
                       _ reply: GRPCReply<Etcdserverpb_AlarmResponse>) {
        guard request.action != .get else {
            var response = Etcdserverpb_AlarmResponse()
            response.alarms = node.alarms.list(request.alarm)
            response.header = node.header()
            return reply.succeed(response)
        }
        node.propose(.alarm(request), on: context.eventLoop).whenSuccess { outcome in
            switch outcome {
            case .alarms(let alarms, let revision):
                var response = Etcdserverpb_AlarmResponse()
                response.alarms = alarms
                response.header = node.header(revision: revision)
                reply.succeed(response)
            case .failed(let error): reply.fail(error.status)
            default: preconditionFailure("an alarm request was applied as \(outcome)")
            }
        }
    }

    /// Streams a consistent copy of the backend: written to a file from one read snapshot on
    /// the pool, then sent in chunks, each after the previous one was written (backpressure).
    private func snapshot(_ eventLoop: any EventLoop, _ stream: GRPCServerStream<Etcdserverpb_SnapshotResponse>) {
        let copyPath = node.options.snapDirectory + "/db.snapshot-\(node.requestIDs.make())"
        pool.runIfActive(eventLoop: eventLoop) { () throws -> FileHandle in
            try node.database.writeCopy(to: copyPath)
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: copyPath))
            try? FileManager.default.removeItem(atPath: copyPath)  // the open handle keeps the data
            return handle
        }.whenComplete { result in
            switch result {
            case .failure(let error):
                try? FileManager.default.removeItem(atPath: copyPath)
                stream.finish(GRPCStatus(.internal, "etcdserver: snapshot failed: \(error)"))
            case .success(let handle):
                let size = (try? handle.seekToEnd()) ?? 0
                try? handle.seek(toOffset: 0)
                sendChunks(handle, remaining: size, eventLoop, stream)
            }
        }
    }

    /// Sends the copy in chunks, each read on the pool after the previous one was written,
    /// then — as etcd ends the stream — the SHA-256 of all the bytes sent (etcdctl checks it).
    private func sendChunks(_ handle: FileHandle, remaining: UInt64, _ eventLoop: any EventLoop,
                            _ stream: GRPCServerStream<Etcdserverpb_SnapshotResponse>, digest: SnapshotDigest = SnapshotDigest()) {
        pool.runIfActive(eventLoop: eventLoop) { () throws -> Data in
            let chunk = remaining == 0 ? Data(digest.finish()) : try handle.read(upToCount: Self.snapshotChunkBytes) ?? Data()
            if remaining > 0 { digest.update(chunk) }
            return chunk
        }.whenComplete { result in
            guard case .success(let chunk) = result, !chunk.isEmpty, UInt64(chunk.count) <= max(remaining, 32) else {
                try? handle.close()
                return stream.finish(GRPCStatus(.internal, "etcdserver: snapshot read failed"))
            }
            let last = remaining == 0
            let left = last ? 0 : remaining - UInt64(chunk.count)
            var response = Etcdserverpb_SnapshotResponse()
            response.header = node.header()
            response.remainingBytes = left
            response.blob = chunk
            let written = eventLoop.makePromise(of: Void.self)
            stream.send(response, promise: written)
            written.futureResult.whenComplete { sent in
                guard case .success = sent, !last else {
                    try? handle.close()
                    if case .success = sent { stream.finish() }
                    return
                }
                sendChunks(handle, remaining: left, eventLoop, stream, digest: digest)
            }
        }
    }

    /// Runs `body` on the pool and completes `reply` with it; an `EtcdError` is answered as
    /// its status, a `GRPCStatus` as itself, anything else as UNKNOWN with its description.
    private func blocking<Response: Sendable>(_ eventLoop: any EventLoop, _ reply: GRPCReply<Response>,
                                              _ body: @escaping @Sendable () throws -> Response) {
        pool.runIfActive(eventLoop: eventLoop) { () throws -> Response in try body() }.whenComplete { result in
            switch result {
            case .success(let response): reply.succeed(response)
            case .failure(let error as EtcdError): reply.fail(error.status)
            case .failure(let error as GRPCStatus): reply.fail(error)
            case .failure(let error): reply.fail(GRPCStatus(.unknown, "\(error)"))
            }
        }
    }
}

/// The running SHA-256 of a snapshot stream; touched by one pool job at a time, each after
/// the previous one finished.
final class SnapshotDigest: @unchecked Sendable {
    private var hash = SHA256()
    func update(_ data: Data) { hash.update(data) }
    func finish() -> [UInt8] { hash.finish() }
}

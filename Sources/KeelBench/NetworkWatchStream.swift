import Foundation
import KeelAPI
import NIOCore

/// One Watch stream of a watch run and what its events measured. Touched only on its
/// connection's event loop (responses arrive there).
final class NetworkWatchStream: @unchecked Sendable {
    let watchers: Int
    let recorder = NetworkRecorder()
    private(set) var call: GRPCClientStreamingCall<Etcdserverpb_WatchRequest>?
    /// Completes when all of this stream's watchers are created.
    private(set) var created: EventLoopPromise<Void>!
    private var createdCount = 0
    private var cancelledByUs = false
    var lastEventNanoseconds: UInt64 = 0

    init(watchers: Int) { self.watchers = watchers }

    /// Opens the stream; called on the connection's event loop.
    func open(on connection: GRPCClient, run: NetworkWatchRun) {
        created = connection.channel.eventLoop.makePromise()
        let call = connection.bidirectionalStreaming(
            EtcdPaths.watch, Etcdserverpb_WatchRequest.self, Etcdserverpb_WatchResponse.self
        ) { response in self.received(response, run: run) }
        call.status.whenComplete { result in
            let reason = (try? result.get()).map { "\($0)" } ?? "\(result)"
            self.created.fail(BenchFailure("watch stream ended: \(reason)"))
            if !self.cancelledByUs { self.recorder.recordFailure(BenchFailure("watch stream ended: \(reason)")) }
        }
        self.call = call
    }

    func cancel() {
        cancelledByUs = true
        call?.cancel()
    }

    private func received(_ response: Etcdserverpb_WatchResponse, run: NetworkWatchRun) {
        let now = BenchSystem.monotonicNanoseconds()
        if response.created {
            createdCount += 1
            if createdCount == watchers { created.succeed() }
        }
        if response.canceled {
            recorder.recordFailure(BenchFailure("watch \(response.watchID) canceled: \(response.cancelReason)"))
        }
        let start = run.startNanoseconds.load(ordering: .relaxed)
        for event in response.events where event.type == .put {
            let value = event.kv.value
            guard value.count >= NetworkWatchRun.stampBytes else {
                recorder.recordFailure(BenchFailure("an event value without a send time (\(value.count) bytes)"))
                continue
            }
            var stamp: UInt64 = 0
            for (shift, byte) in value.prefix(NetworkWatchRun.stampBytes).enumerated() { stamp |= UInt64(byte) << (8 * shift) }
            recorder.recordSuccess(kind: nil, latencyNanoseconds: now > stamp ? now - stamp : 0,
                                   offsetNanoseconds: now > start ? now - start : 0)
            lastEventNanoseconds = now
            run.delivered.add(1, ordering: .relaxed)
        }
    }
}

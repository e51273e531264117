import KeelAPI
import KeelMVCC
import NIOCore
import Synchronization

/// --auto-compaction-mode and --auto-compaction-retention: compaction proposed through raft
/// (so every member compacts at the same revision) by the member itself.
///
/// - revision: every 5 minutes, compact to the current revision minus the retention.
/// - periodic: every tenth of the retention (at most every hour, at least every second) the
///   current revision is sampled; the newest sample at least one retention old is the
///   revision compacted to, so about one retention of history is always kept.
final class AutoCompactor: Sendable {
    private let node: KeelNode
    private let mode: AutoCompaction
    private let samples = Mutex<[(at: ContinuousClock.Instant, revision: Int64)]>([])
    private let task = Mutex<RepeatedTask?>(nil)

    init(node: KeelNode, mode: AutoCompaction) {
        self.node = node
        self.mode = mode
    }

    var interval: Duration? {
        switch mode {
        case .off: nil
        case .revision: .seconds(300)
        case .periodic(let retention): max(min(retention / 10, .seconds(3600)), .seconds(1))
        }
    }

    func start(on eventLoop: any EventLoop) {
        guard let interval else { return }
        let nanoseconds = interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000
        let scheduled = eventLoop.scheduleRepeatedTask(initialDelay: .nanoseconds(nanoseconds), delay: .nanoseconds(nanoseconds)) {
            [self] _ in tick(on: eventLoop)
        }
        task.withLock { $0 = scheduled }
    }

    func stop() { task.withLock { $0?.cancel() } }

    /// The revision to compact to now, if any.
    func target(now: ContinuousClock.Instant) -> Int64? {
        let store = node.keySpace.store
        let target: Int64
        switch mode {
        case .off: return nil
        case .revision(let keep):
            target = store.currentRevision - Int64(clamping: keep)
        case .periodic(let retention):
            let old: Int64? = samples.withLock { samples in
                samples.append((now, store.currentRevision))
                let due = samples.lastIndex { now - $0.at >= retention }
                guard let due else { return nil }
                let revision = samples[due].revision
                samples.removeFirst(due + 1)
                return revision
            }
            guard let old else { return nil }
            target = old
        }
        return target > store.compactRevision ? target : nil
    }

    private func tick(on eventLoop: any EventLoop) {
        guard node.raft.state.leader.load(ordering: .relaxed) == node.memberID, let revision = target(now: .now) else { return }
        var request = Etcdserverpb_CompactionRequest()
        request.revision = revision
        node.propose(.compact(request), on: eventLoop).whenSuccess { [node] outcome in
            switch outcome {
            case .compact: node.logger.info("completed auto compaction", .int("revision", revision))
            case .failed(let error): node.logger.warn("failed auto compaction", .int("revision", revision), .string("error", error.message))
            default: break
            }
        }
    }
}

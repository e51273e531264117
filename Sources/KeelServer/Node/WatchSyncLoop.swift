import KeelIO
import KeelMVCC
import Synchronization

/// The watch engine's timer, on its own thread: catches unsynced watchers up from history
/// (`WatchHub.syncUnsynced`) and sends progress notifications (`WatchHub.tick`).
///
/// As etcd's watchable store: a round every 100 ms, and back to back (after a 10 ms breath)
/// while watchers remain unsynced, so a watcher moved aside by a slow stream or started in the
/// past catches up at history-read speed rather than 8 K events per 100 ms. History reads run
/// here, never on the apply thread or an event loop.
final class WatchSyncLoop: Sendable {
    /// etcd: watchable store's sync loop period.
    static let idleIntervalNanoseconds: UInt64 = 100_000_000
    /// The pause between rounds while some watchers are still behind.
    static let busyIntervalNanoseconds: UInt64 = 10_000_000
    /// Events one history read may return (etcd's watchBatchMaxRevs is revisions, this bounds
    /// events; the stream bounds cap what is queued anyway).
    static let eventsPerRoundMax = 4096

    private let hub: WatchHub
    private let mailbox = Mailbox<Void>()
    private let thread: Mutex<OSThread?> = Mutex(nil)

    init(hub: WatchHub) {
        self.hub = hub
    }

    func start() {
        thread.withLock { thread in
            precondition(thread == nil, "the watch sync loop started twice")
            thread = OSThread(name: "keel-watch-sync") { [self] in run() }
        }
    }

    /// Ends the loop after its current round and waits for it.
    func stop() {
        mailbox.close()
        let running = thread.withLock { thread -> OSThread? in
            defer { thread = nil }
            return thread
        }
        running?.join()
    }

    private func run() {
        var behind = 0
        while true {
            let pause = behind > 0 ? Self.busyIntervalNanoseconds : Self.idleIntervalNanoseconds
            let (_, closed) = mailbox.take(waitingUntil: MonotonicClock.nanoseconds() + pause)
            if closed { return }
            behind = hub.syncUnsynced(eventsMax: Self.eventsPerRoundMax)
            hub.tick(nowNanoseconds: Int64(MonotonicClock.nanoseconds()))
        }
    }
}

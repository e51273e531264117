import KeelRaft
import NIOCore

extension PeerLink {
    /// Sends one snapshot message on a connection of its own (PeerSnapshotSender). One at a
    /// time per peer: another snapshot while one is in flight is dropped and reported failed,
    /// as raft asks a report for every snapshot message.
    func sendSnapshot(_ message: KeelRaft.Message) {
        eventLoop.execute {
            let busy = self.snapshot != nil
            if busy || { if case .stopped = self.state { true } else { false } }() {
                self.environment.counters.messagesDropped.bump(1)
                self.environment.counters.snapshotsFailed.bump(1)
                self.environment.report(.snapshot(self.peer, .failed))
                return
            }
            let sender = PeerSnapshotSender(message: message, peer: self.peer, environment: self.environment, eventLoop: self.eventLoop) { status in
                self.snapshot = nil
                self.environment.report(.snapshot(self.peer, status))
            }
            self.snapshot = sender
            sender.start(address: self.address)
        }
    }
}

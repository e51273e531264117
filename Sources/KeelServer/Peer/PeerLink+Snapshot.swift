import KeelIO
import KeelRaft
import NIOCore

extension PeerLink {
    /// Sends one snapshot message on a connection of its own (PeerSnapshotSender). One at a
    /// time per peer: another snapshot while one is in flight is dropped and reported failed,
    /// as raft asks a report for every snapshot message.
    /// `dataFile`: the data is in that file (taken over, removed once sent or dropped), not in
    /// the message.
    func sendSnapshot(_ message: KeelRaft.Message, dataFile: String? = nil) {
        eventLoop.execute {
            let busy = self.snapshot != nil
            var source: PeerSnapshotSource?
            if let dataFile, !busy {
                do throws(KeelIO.IOError) {
                    source = try PeerSnapshotSource(file: dataFile)
                } catch {
                    self.environment.log(.warn, "failed to open a database snapshot to send", self.environment.fields(peer: self.peer, [.error(error)]))
                    self.environment.counters.snapshotsFailed.bump(1)
                    self.environment.report(.snapshot(self.peer, .failed))
                    return
                }
            } else if let dataFile {
                try? Syscalls.unlink(dataFile)
            }
            if busy || { if case .stopped = self.state { true } else { false } }() {
                source?.close()
                self.environment.counters.messagesDropped.bump(1)
                self.environment.counters.snapshotsFailed.bump(1)
                self.environment.report(.snapshot(self.peer, .failed))
                return
            }
            let sender = PeerSnapshotSender(message: message, source: source, peer: self.peer, environment: self.environment,
                                            eventLoop: self.eventLoop) { status in
                self.snapshot = nil
                self.environment.report(.snapshot(self.peer, status))
            }
            self.snapshot = sender
            sender.start(address: self.address)
        }
    }
}

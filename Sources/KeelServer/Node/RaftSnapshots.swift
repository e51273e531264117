#if canImport(Glibc)
import Glibc
#endif
import KeelIO
import KeelMVCC
import KeelRaft
import KeelStorage
import Synchronization

/// The raft loop's part in snapshots: a leader fills a snapshot message with a copy of the
/// B+tree before the transport sends it; a follower saves the database it receives before
/// raft sees the message (``SnapshotDatabaseFiles``).
///
/// What a snapshot carries: a consistent copy of the committed B+tree, made from one read
/// transaction (`Database.writeCopy`, as Maintenance/Snapshot makes one), and raft's metadata:
/// the membership, and the index and term of the last entry the copy holds (its consistent
/// index, at or past raft's snapshot marker: the B+tree was committed through the marker
/// before the marker was written). The follower's log restarts there.
///
/// Memory: the copy is made in a file of the snap directory on its own thread (the raft loop
/// never waits for it); the transport streams it from there in chunks (``PeerSnapshotSource``)
/// and the receiving transport writes the chunks to a file (``PeerSnapshotSink``), so neither
/// side holds the database in memory.
final class RaftSnapshots: Sendable {
    let files: SnapshotDatabaseFiles
    private let database: Database
    private let logger: ServerLogger
    /// Tells the raft loop how a snapshot ended when the transport never got it.
    private let report: @Sendable (PeerReport) -> Void
    /// Followers whose copy is being made: raft asks for one snapshot per follower at a time.
    private let copying = Mutex<Set<NodeID>>([])
    /// The copying threads not joined yet, by follower (at most one per follower).
    private let threads = Mutex<[NodeID: OSThread]>([:])
    private let stopped = Atomic<Bool>(false)
    /// The name every copy made for a follower starts with.
    static let sendPrefix = "send-"
    /// Databases received from a leader and saved (they may not all get installed).
    let received = Atomic<UInt64>(0)
    /// Copies made and handed to the transport.
    let sent = Atomic<UInt64>(0)

    init(files: SnapshotDatabaseFiles, database: Database, logger: ServerLogger, report: @escaping @Sendable (PeerReport) -> Void) {
        self.files = files
        self.database = database
        self.logger = logger
        self.report = report
    }

    /// Starts making the copy for `message` (a snapshot message from raft) and sends it through
    /// `peers` once made; false, at once, when a copy for that follower is already under way
    /// or the node is stopping (the caller reports the snapshot failed).
    func send(_ message: KeelRaft.Message, through peers: PeerTransport) -> Bool {
        precondition(message.snapshot != nil, "a snapshot message without a snapshot")
        let to = message.to
        guard !stopped.load(ordering: .relaxed), copying.withLock({ $0.insert(to).inserted }) else { return false }
        let thread = OSThread(name: "keel-snapshot-copy") { [self] in
            defer { _ = copying.withLock { $0.remove(to) } }
            if let (filled, dataFile) = copy(for: message) {
                sent.add(1, ordering: .relaxed)
                peers.sendSnapshot(filled, dataFile: dataFile)
            } else {
                report(.snapshot(to, .failed))
            }
        }
        let finished = threads.withLock { threads in threads.updateValue(thread, forKey: to) }
        // The earlier thread for this follower left `copying` before it ended: it is done or
        // about to be.
        finished?.join()
        return true
    }

    /// The copy for `message`, in a file of the snap directory that the transport streams and
    /// then removes, and the message announcing it; nil (logged) when the copy failed.
    private func copy(for message: KeelRaft.Message) -> (KeelRaft.Message, String)? {
        let started = MonotonicClock.nanoseconds()
        let index = message.snapshot!.metadata.index
        let path = files.directory + "/" + Self.sendPrefix + String(message.to.rawValue, radix: 16) + "-" + String(index.rawValue) + ".db"
        let held: ConsistentIndex
        let members: ClusterMembership?
        do {
            try database.writeCopy(to: path)
            (held, members) = try Self.position(path, storage: database.storageOptions)
        } catch {
            try? Syscalls.unlink(path)
            logger.warn("failed to make a database snapshot for a member", .string("remote-peer-id", hex(message.to.rawValue)),
                        .int("snapshot-index", index.rawValue), .error(error))
            return nil
        }
        logger.info("sending database snapshot", .string("remote-peer-id", hex(message.to.rawValue)),
                    .int("snapshot-index", held.index), .int("snapshot-bytes", Self.fileBytes(path)),
                    .duration("copy-took", .nanoseconds(Int64(MonotonicClock.nanoseconds() - started))))
        // As etcd does, the snapshot is announced at the copy's own position (the entry the
        // B+tree had applied, committed on this leader), not at the older marker raft chose:
        // the follower's log then starts exactly where its new backend ends, and a restart
        // before the follower receives more entries finds them in agreement.
        precondition(held.index >= index.rawValue, "the B+tree copy is behind the snapshot marker")
        var announced = message
        announced.snapshot!.metadata.index = KeelRaft.LogIndex(held.index)
        announced.snapshot!.metadata.term = KeelRaft.Term(held.term)
        // The membership in force at the copy's index is the one stored in the copy (each
        // change is saved with the entry that made it), not the one at raft's older marker.
        if let members {
            announced.snapshot!.metadata.confState = ConfState(voters: members.members.filter { !$0.isLearner }.map { NodeID($0.id) },
                                                               learners: members.members.filter(\.isLearner).map { NodeID($0.id) })
        }
        announced.snapshot!.data = []
        return (announced, path)
    }

    /// The copy's consistent index and the membership it stores.
    private static func position(_ path: String, storage: StorageOptions) throws -> (ConsistentIndex, ClusterMembership?) {
        let copy = try Database.open(path: path, options: storage)
        defer { copy.close() }
        let members = try ClusterMembership.load(from: copy)
        let read = copy.beginRead()
        defer { read.end() }
        return (KVStore.storedConsistentIndex(read), members)
    }

    private static func fileBytes(_ path: String) -> Int64 {
        guard let fd = try? Syscalls.open(path, flags: O_RDONLY) else { return -1 }
        defer { Syscalls.close(fd) }
        return (try? Syscalls.fileSize(fd, path: path)) ?? -1
    }

    /// Saves the database of a snapshot message from the leader (its index is past this
    /// member's commit index) and returns the message without its data, for raft; nil (logged)
    /// when the data is not a sound database at or past the snapshot's index.
    func receive(_ message: KeelRaft.Message) -> KeelRaft.Message? {
        guard var snapshot = message.snapshot else { preconditionFailure("a snapshot message without a snapshot") }
        let started = MonotonicClock.nanoseconds()
        let index = snapshot.metadata.index
        do {
            let held = try files.save(snapshot.data, index: index)
            received.add(1, ordering: .relaxed)
            logger.info("saved database snapshot from the leader", .string("remote-peer-id", hex(message.from.rawValue)),
                        .int("snapshot-index", index.rawValue), .int("snapshot-bytes", Self.fileBytes(files.path(index))),
                        .string("received-into", snapshot.data.isEmpty ? "file" : "memory"),
                        .int("database-applied-index", held.index),
                        .duration("took", .nanoseconds(Int64(MonotonicClock.nanoseconds() - started))))
        } catch {
            logger.warn("refused a database snapshot from the leader", .string("remote-peer-id", hex(message.from.rawValue)),
                        .int("snapshot-index", index.rawValue), .int("snapshot-bytes", snapshot.data.count), .error(error))
            return nil
        }
        var stripped = message
        snapshot.data = []
        stripped.snapshot = snapshot
        return stripped
    }

    /// Waits for the copies under way (before the database closes); none starts afterwards.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        for thread in threads.withLock({ threads in defer { threads.removeAll() }; return Array(threads.values) }) { thread.join() }
    }
}

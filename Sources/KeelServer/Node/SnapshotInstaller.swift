import KeelIO
import KeelMVCC
import KeelRaft
import KeelStorage
import Synchronization

/// Installs a database a leader sent in a raft snapshot as this member's backend, and brings
/// every in-memory state built from the backend in line with it.
///
/// Why the file is switched under the one `Database` object rather than the snapshot copied
/// into the old database or a new `Database` object swapped in: every service holds the
/// node's `database` and `keySpace` (`let`s, read on any thread without a lock), so swapping
/// objects would put a lock or an atomic box on every read path; copying into the old
/// database means one write transaction the size of the whole snapshot, held in memory until
/// its commit. `Database.replace(withFileAt:)` instead renames the received file over the
/// backend (atomic: a crash leaves the old file or the new one, never a mix) and publishes it
/// like a defragmentation's switch: readers that began before finish on the old file. The
/// key space, lessor, watchers, alarms and membership are then rebuilt from the new file, as
/// a restart would build them.
///
/// Thread: the apply loop's (or the node's start, before the loops run).
final class SnapshotInstaller: @unchecked Sendable {
    // Sendable: `install` runs on one thread at a time (start, then the apply loop).
    let files: SnapshotDatabaseFiles
    private let keySpace: KeySpace
    private let logger: ServerLogger
    /// Snapshots installed since the process started (for tests and metrics).
    let installed = Atomic<UInt64>(0)
    /// Called after each install, with the new backend in place: reloads the state the node
    /// keeps outside the key space (alarms, membership). Set before the apply loop starts.
    var afterInstall: (@Sendable () -> Void)?

    init(files: SnapshotDatabaseFiles, keySpace: KeySpace, logger: ServerLogger) {
        self.files = files
        self.keySpace = keySpace
        self.logger = logger
    }

    /// Installs the saved file of the snapshot at `index` (see ``SnapshotDatabaseFiles``) and
    /// returns the consistent index of the new backend: the apply loop continues after it.
    /// A missing or damaged file is a storage error (the caller stops the member: raft and the
    /// WAL already moved past what the old backend holds).
    func install(index: KeelRaft.LogIndex) throws(StorageError) -> ConsistentIndex {
        let started = MonotonicClock.nanoseconds()
        let store = keySpace.store
        let before = store.consistentIndex
        // The replace takes the writer role: the store's open write transaction commits first.
        try store.flush()
        try store.database.replace(withFileAt: files.path(index))
        let unknownLeases = try keySpace.databaseReplaced()
        for key in unknownLeases {
            logger.warn("a key in the snapshot carries a lease the snapshot does not hold", .string("key", String(decoding: key, as: UTF8.self)))
        }
        afterInstall?()
        files.removeAll(through: KeelRaft.LogIndex(store.consistentIndex.index))
        installed.add(1, ordering: .relaxed)
        let applied = store.consistentIndex
        logger.info("installed snapshot database", .int("snapshot-index", index.rawValue),
                    .int("previous-applied-index", before.index), .int("applied-index", applied.index),
                    .int("current-revision", store.currentRevision), .int("compact-revision", store.compactRevision),
                    .int("leases", keySpace.lessor.count), .int("backend-size-bytes", store.database.fileBytes),
                    .duration("took", .nanoseconds(Int64(MonotonicClock.nanoseconds() - started))))
        precondition(applied.index >= index.rawValue, "the installed database is behind its snapshot")
        return applied
    }
}

#if canImport(Glibc)
import Glibc
#endif
import KeelIO
import KeelMVCC
import KeelRaft
import KeelStorage

/// The databases leaders sent this member in raft snapshots, kept in the snap directory under
/// etcd's name for them, `<snapshot index as 16 hex digits>.snap.db`, until installed.
///
/// Order of events (what makes an install crash-safe):
/// 1. `save` writes the received bytes under a `.tmp` name, fsyncs, checks that the file opens
///    as a database whose consistent index reaches the snapshot's index, renames it into
///    place and syncs the directory. Only then does raft hear of the snapshot.
/// 2. Raft restores the snapshot; the raft log writes its marker (and hard state) to the WAL.
///    From here a restart begins at the marker, and the marker's file is already durable.
/// 3. The apply loop renames the file over the backend (`Database.replace(withFileAt:)`).
///
/// A restart that finds the WAL's newest marker past the backend's consistent index is one
/// interrupted between 2 and 3: it installs `<marker>.snap.db` before serving anything. Files
/// of other indexes (a crash between 1 and 2, a snapshot raft ignored) are removed at start.
struct SnapshotDatabaseFiles: Sendable {
    static let suffix = ".snap.db"
    let directory: String
    let storage: StorageOptions

    func path(_ index: KeelRaft.LogIndex) -> String { Self.path(index, in: directory) }

    static func path(_ index: KeelRaft.LogIndex, in directory: String) -> String {
        let hex = String(index.rawValue, radix: 16)
        return directory + "/" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex + suffix
    }

    func exists(_ index: KeelRaft.LogIndex) -> Bool {
        (try? Syscalls.listDirectory(directory).contains(String(path(index).split(separator: "/").last!))) ?? false
    }

    /// Makes `data` the durable, checked file for the snapshot at `index` (steps 1 above).
    /// Returns the consistent index the database holds. Data that is not a sound database, or
    /// one behind `index`, is refused with `.failed` and leaves no file behind.
    /// With `data` empty, the transport has already streamed the database to the `.tmp` name
    /// and made it durable (``PeerSnapshotSink``): only the check and the rename remain.
    @discardableResult
    func save(_ data: [UInt8], index: KeelRaft.LogIndex) throws(StorageError) -> ConsistentIndex {
        let temporary = path(index) + ".tmp"
        if !data.isEmpty { try write(data, to: temporary) }
        let held: ConsistentIndex
        do {
            held = try Self.check(temporary, storage: storage)
        } catch {
            try? Syscalls.unlink(temporary)
            throw error
        }
        guard held.index >= index.rawValue else {
            try? Syscalls.unlink(temporary)
            throw .failed("the snapshot database holds entries through \(held.index), short of the snapshot's index \(index)")
        }
        do throws(IOError) {
            try Syscalls.rename(temporary, path(index))
            try Syscalls.syncDirectory(directory)
        } catch {
            throw .io(error)
        }
        return held
    }

    private func write(_ data: [UInt8], to temporary: String) throws(StorageError) {
        do throws(IOError) {
            try? Syscalls.unlink(temporary)
            let fd = try Syscalls.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            defer { Syscalls.close(fd) }
            let written = data.withUnsafeBytes { bytes in
                Result { () throws(IOError) in try Syscalls.pwriteAll(fd, bytes, offset: 0, path: temporary) }
            }
            try written.get()
            try Syscalls.fsync(fd, path: temporary)
        } catch {
            try? Syscalls.unlink(temporary)
            throw .io(error)
        }
    }

    /// Opens the database at `path`, checks it is a whole copy (`Database.openCopy`), and returns the
    /// consistent index it records. Nothing in the file is changed.
    static func check(_ path: String, storage: StorageOptions) throws(StorageError) -> ConsistentIndex {
        let database = try Database.openCopy(path: path, options: storage)
        defer { database.close() }
        let read = database.beginRead()
        defer { read.end() }
        return KVStore.storedConsistentIndex(read)
    }

    /// Removes the snapshot files (unfinished `.tmp` and `.part` ones too) of snapshots at or
    /// below `through`, or all of them (nil, at start). Files of later snapshots stay: the raft
    /// loop may be saving one while the apply loop installs an earlier one.
    func removeAll(through: KeelRaft.LogIndex? = nil) {
        guard let names = try? Syscalls.listDirectory(directory) else { return }
        for name in names where through == nil && name.hasPrefix(RaftSnapshots.sendPrefix) {
            try? Syscalls.unlink(directory + "/" + name)  // a copy for a follower, left by a crash
        }
        for name in names where name.contains(Self.suffix) {
            guard let index = UInt64(name.prefix(16), radix: 16), name.dropFirst(16).hasPrefix(Self.suffix) else { continue }
            if let through, index > through.rawValue { continue }
            try? Syscalls.unlink(directory + "/" + name)
        }
    }
}

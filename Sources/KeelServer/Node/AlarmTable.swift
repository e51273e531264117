import KeelAPI
import KeelMVCC
import KeelStorage
import Synchronization

/// The cluster's raised alarms (NOSPACE when a member's backend passes its quota, CORRUPT),
/// applied through raft so every member agrees, and kept in the `alarm` bucket (key: the
/// `etcdserverpb.AlarmMember` in protobuf encoding, value empty) so they survive a restart.
final class AlarmTable: Sendable {
    static let bucket = Array("alarm".utf8)
    private let raised: Mutex<[Etcdserverpb_AlarmMember]>
    /// True while any NOSPACE alarm is raised; read on every write.
    private let noSpace = Atomic<Bool>(false)

    init(database: Database) {
        let alarms = Self.load(from: database)
        raised = Mutex(alarms)
        noSpace.store(alarms.contains { $0.alarm == .nospace }, ordering: .relaxed)
    }

    /// Replaces the alarms with those `database` holds (after a raft snapshot replaced it).
    func reload(from database: Database) {
        let alarms = Self.load(from: database)
        raised.withLock { $0 = alarms }
        noSpace.store(alarms.contains { $0.alarm == .nospace }, ordering: .relaxed)
    }

    private static func load(from database: Database) -> [Etcdserverpb_AlarmMember] {
        let read = database.beginRead()
        defer { read.end() }
        var alarms: [Etcdserverpb_AlarmMember] = []
        read.scan(Self.bucket) { key, _ in
            if let alarm = try? Etcdserverpb_AlarmMember(serializedBytes: Array(key)) { alarms.append(alarm) }
            return true
        }
        return alarms
    }

    var spaceExceeded: Bool { noSpace.load(ordering: .relaxed) }

    /// The alarms of type `type` (every alarm for `.none`), as Alarm GET answers.
    func list(_ type: Etcdserverpb_AlarmType) -> [Etcdserverpb_AlarmMember] {
        raised.withLock { alarms in type == .none ? alarms : alarms.filter { $0.alarm == type } }
    }

    /// Applies an activation or deactivation; returns the alarm it changed (none when it was
    /// already in that state, or for a request naming no alarm).
    func apply(_ request: Etcdserverpb_AlarmRequest, in store: KVStore) throws(StorageError) -> [Etcdserverpb_AlarmMember] {
        guard request.alarm != .none else { return [] }
        var member = Etcdserverpb_AlarmMember()
        member.memberID = request.memberID
        member.alarm = request.alarm
        let key = try! member.serializedBytes() as [UInt8]
        let changed: Bool = raised.withLock { alarms in
            let index = alarms.firstIndex { $0.memberID == member.memberID && $0.alarm == member.alarm }
            switch (request.action, index) {
            case (.activate, nil):
                alarms.append(member)
                return true
            case (.deactivate, let found?):
                alarms.remove(at: found)
                return true
            default:
                return false
            }
        }
        guard changed else { return [] }
        let transaction = try store.storageTransaction()
        if request.action == .activate {
            try transaction.put(Self.bucket, key, [])
        } else {
            try transaction.delete(Self.bucket, key)
        }
        noSpace.store(list(.nospace).isEmpty == false, ordering: .relaxed)
        return [member]
    }
}

import KeelRaft
import NIOCore

extension RaftMessageCodec {
    /// The wire code of each network message type. Fixed forever for version 1: never reuse
    /// or renumber a code, add new ones at the end.
    static func wireCode(_ type: MessageType) -> UInt8 {
        switch type {
        case .propose: 1
        case .append: 2
        case .appendResponse: 3
        case .vote: 4
        case .voteResponse: 5
        case .preVote: 6
        case .preVoteResponse: 7
        case .snapshot: 8
        case .heartbeat: 9
        case .heartbeatResponse: 10
        case .transferLeader: 11
        case .timeoutNow: 12
        case .readIndex: 13
        case .readIndexResponse: 14
        case .hup, .beat, .checkQuorum, .unreachable, .snapshotStatus:
            preconditionFailure("the local message \(type) has no wire code")
        }
    }

    static let typesByWireCode: [UInt8: MessageType] = Dictionary(
        uniqueKeysWithValues: MessageType.allCases.filter { !$0.isLocal }.map { (wireCode($0), $0) })

    /// Decodes a message body (all of `body`). With `snapshotData` false (a snapshotBegin
    /// frame) the snapshot's data is not in the body: the message comes back with empty data
    /// and `snapshotDataBytes` says how many bytes the chunks will bring.
    static func readBody(_ body: inout ByteBuffer, snapshotData: Bool) throws(PeerFrameError) -> (message: KeelRaft.Message, snapshotDataBytes: UInt64) {
        var reader = BodyReader(buffer: body)
        let code = try reader.u8()
        guard let type = typesByWireCode[code] else { throw .malformed("unknown message type code \(code)") }
        let flags = try reader.u8()
        guard flags & ~3 == 0, try reader.u16() == 0 else { throw .malformed("unknown flags or reserved bytes set") }
        let entryCount = Int(try reader.u32())
        var message = KeelRaft.Message(type: type)
        message.reject = flags & 1 != 0
        message.to = NodeID(try reader.u64())
        message.from = NodeID(try reader.u64())
        message.term = KeelRaft.Term(try reader.u64())
        message.logTerm = KeelRaft.Term(try reader.u64())
        message.index = KeelRaft.LogIndex(try reader.u64())
        message.commit = KeelRaft.LogIndex(try reader.u64())
        message.rejectHintIndex = KeelRaft.LogIndex(try reader.u64())
        message.rejectHintTerm = KeelRaft.Term(try reader.u64())
        message.context = try reader.bytes(Int(try reader.u32()), "context")
        // Refuse a count the body cannot hold before reserving room for it.
        guard entryCount <= reader.remaining / entryFixedBytes else { throw .malformed("\(entryCount) entries cannot fit in the frame") }
        message.entries.reserveCapacity(entryCount)
        for _ in 0..<entryCount {
            let term = KeelRaft.Term(try reader.u64())
            let index = KeelRaft.LogIndex(try reader.u64())
            let kindByte = try reader.u8()
            guard let kind = EntryKind(rawValue: kindByte) else { throw .malformed("unknown entry kind \(kindByte)") }
            let data = try reader.bytes(Int(try reader.u32()), "entry data")
            message.entries.append(Entry(term: term, index: index, kind: kind, data: data))
        }
        var snapshotDataBytes: UInt64 = 0
        if flags & 2 != 0 {
            (message.snapshot, snapshotDataBytes) = try readSnapshot(&reader, data: snapshotData)
        }
        guard reader.remaining == 0 else { throw .malformed("\(reader.remaining) bytes after the message") }
        return (message, snapshotDataBytes)
    }

    private static func readSnapshot(_ reader: inout BodyReader, data: Bool) throws(PeerFrameError) -> (Snapshot, UInt64) {
        let index = KeelRaft.LogIndex(try reader.u64())
        let term = KeelRaft.Term(try reader.u64())
        let voterCount = Int(try reader.u32())
        let learnerCount = Int(try reader.u32())
        guard voterCount <= reader.remaining / 8, learnerCount <= reader.remaining / 8 - voterCount else {
            throw .malformed("\(voterCount) voters and \(learnerCount) learners cannot fit in the frame")
        }
        var voters: [NodeID] = []
        var learners: [NodeID] = []
        for _ in 0..<voterCount { voters.append(NodeID(try reader.u64())) }
        for _ in 0..<learnerCount { learners.append(NodeID(try reader.u64())) }
        // ConfState traps on a member that is both voter and learner: check before building it.
        guard isIncreasing(voters), isIncreasing(learners), Set(voters).isDisjoint(with: learners) else {
            throw .malformed("snapshot membership lists are not sorted and disjoint")
        }
        let dataBytes = try reader.u64()
        var snapshot = Snapshot(metadata: SnapshotMetadata(index: index, term: term, confState: ConfState(voters: voters, learners: learners)))
        if data {
            guard dataBytes <= UInt64(reader.remaining) else { throw .malformed("snapshot data runs past the frame") }
            snapshot.data = try reader.bytes(Int(dataBytes), "snapshot data")
        }
        return (snapshot, dataBytes)
    }

    private static func isIncreasing(_ ids: [NodeID]) -> Bool {
        zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }
    }
}

/// Little-endian reads from a frame body that throw, rather than trap, past its end.
struct BodyReader {
    var buffer: ByteBuffer
    var remaining: Int { buffer.readableBytes }

    mutating func u8() throws(PeerFrameError) -> UInt8 { try integer() }
    mutating func u16() throws(PeerFrameError) -> UInt16 { try integer() }
    mutating func u32() throws(PeerFrameError) -> UInt32 { try integer() }
    mutating func u64() throws(PeerFrameError) -> UInt64 { try integer() }

    private mutating func integer<T: FixedWidthInteger>() throws(PeerFrameError) -> T {
        guard let value = buffer.readInteger(endianness: .little, as: T.self) else {
            throw .malformed("the body ends inside a \(T.bitWidth)-bit field")
        }
        return value
    }

    mutating func bytes(_ count: Int, _ what: String) throws(PeerFrameError) -> [UInt8] {
        guard count <= buffer.readableBytes, let bytes = buffer.readBytes(length: count) else {
            throw .malformed("\(what) of \(count) bytes runs past the body")
        }
        return bytes
    }
}

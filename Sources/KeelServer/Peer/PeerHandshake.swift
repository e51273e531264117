import KeelRaft
import NIOCore

// MARK: - Handshake (frame kinds 1 and 2)
//
// The caller's first frame on every connection is a hello; nothing else is read until the
// listener answered it with a hello reply.
//
//   hello:       0           8        16       24       25
//                +-----------+--------+--------+--------+--------+
//                | clusterID | from   | to     | stream | 0 × 7  |
//                | u64       | u64    | u64    | u8     |        |
//                +-----------+--------+--------+--------+--------+
//                from = the caller's member id, to = the member id the caller expects to
//                reach, stream = 1 (raft messages), 2 (one snapshot) or 3 (requests).
//                A caller outside the cluster (a member joining an existing cluster) says
//                clusterID 0, from 0 and to 0 (or the listener's id) on stream 3 only, and may
//                then call only the `members` method (PeerRequestCodec.swift).
//
//   helloReply:  0        1       8           16          24                28
//                +--------+-------+-----------+-----------+-----------------+--------------+
//                | status | 0 × 7 | clusterID | member    | reason length   | reason UTF-8 |
//                | u8     |       | u64       | u64       | u32             |              |
//                +--------+-------+-----------+-----------+-----------------+--------------+
//                status = PeerHandshake.Status; clusterID and member are the listener's own,
//                so the caller can log what it reached.
//
// The protocol version is the frame header's version byte: a listener that gets a hello of
// another version answers `unsupportedVersion` in a frame of its own version and closes.

/// Which kind of traffic a peer connection carries.
public enum PeerStream: UInt8, Sendable {
    /// The long-lived connection for raft messages other than snapshots.
    case messages = 1
    /// A connection opened for one snapshot, closed once it is acknowledged.
    case snapshot = 2
    /// The long-lived connection for requests and their responses (PeerRequestCodec.swift).
    case requests = 3

    var name: String {
        switch self {
        case .messages: "messages"
        case .snapshot: "snapshot"
        case .requests: "requests"
        }
    }
}

/// The first frame of a connection.
struct PeerHello: Hashable, Sendable {
    var clusterID: UInt64
    var from: NodeID
    var to: NodeID
    var stream: PeerStream

    func write(into buffer: inout ByteBuffer) {
        try! PeerFrameCodec.write(.hello, into: &buffer, frameBytesMax: .max) { body in
            for word in [clusterID, from.rawValue, to.rawValue] { body.writeInteger(word, endianness: .little) }
            body.writeInteger(stream.rawValue)
            body.writeRepeatingByte(0, count: 7)
        }
    }

    /// A caller outside the cluster: cluster id 0 and member id 0 on a requests stream.
    var isStranger: Bool { stream == .requests && clusterID == 0 && from == .none }

    static func read(_ body: ByteBuffer) throws(PeerFrameError) -> PeerHello {
        var reader = BodyReader(buffer: body)
        let clusterID = try reader.u64()
        let from = NodeID(try reader.u64())
        let to = NodeID(try reader.u64())
        let streamByte = try reader.u8()
        guard let stream = PeerStream(rawValue: streamByte) else { throw .malformed("unknown stream \(streamByte) in hello") }
        guard try reader.bytes(7, "padding").allSatisfy({ $0 == 0 }), reader.remaining == 0 else {
            throw .malformed("hello has padding or trailing bytes set")
        }
        return PeerHello(clusterID: clusterID, from: from, to: to, stream: stream)
    }
}

/// The listener's answer to a hello.
struct PeerHelloReply: Hashable, Sendable {
    enum Status: UInt8, Sendable {
        case accepted = 0
        /// The caller belongs to another cluster.
        case clusterMismatch = 1
        /// The caller's member id is not a member this listener knows.
        case unknownMember = 2
        /// The caller expected another member at this address.
        case memberMismatch = 3
        case unsupportedVersion = 4
        /// The caller was removed from the cluster (etcd's peers answer it 410 Gone): it
        /// stops for good.
        case removedMember = 5
    }

    var status: Status
    var clusterID: UInt64
    var member: NodeID
    var reason: String

    func write(into buffer: inout ByteBuffer) {
        let text = Array(reason.utf8.prefix(4096))
        try! PeerFrameCodec.write(.helloReply, into: &buffer, frameBytesMax: .max) { body in
            body.writeInteger(status.rawValue)
            body.writeRepeatingByte(0, count: 7)
            body.writeInteger(clusterID, endianness: .little)
            body.writeInteger(member.rawValue, endianness: .little)
            body.writeInteger(UInt32(text.count), endianness: .little)
            body.writeBytes(text)
        }
    }

    static func read(_ body: ByteBuffer) throws(PeerFrameError) -> PeerHelloReply {
        var reader = BodyReader(buffer: body)
        let statusByte = try reader.u8()
        guard let status = Status(rawValue: statusByte) else { throw .malformed("unknown hello reply status \(statusByte)") }
        _ = try reader.bytes(7, "padding")
        let clusterID = try reader.u64()
        let member = NodeID(try reader.u64())
        let reason = String(decoding: try reader.bytes(Int(try reader.u32()), "reason"), as: UTF8.self)
        guard reader.remaining == 0 else { throw .malformed("bytes after the hello reply") }
        return PeerHelloReply(status: status, clusterID: clusterID, member: member, reason: reason)
    }
}

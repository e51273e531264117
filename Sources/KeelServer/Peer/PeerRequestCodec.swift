import NIOCore

// MARK: - Requests and responses (frame kinds 7 and 8, stream 3)
//
// A member calls another on a connection of its own (hello stream 3, `requests`), opened the
// first time it has something to ask and kept for the next requests. Requests carry an id
// the caller chose; the listener answers each with a response carrying the same id, in
// whatever order its handler finishes, so a slow request does not hold up a quick one.
//
//   request:   0           8        10       16
//              +-----------+--------+--------+----------------------+
//              | requestID | method | 0 × 6  | payload              |
//              | u64       | u16    |        | the rest of the body |
//              +-----------+--------+--------+----------------------+
//
//   response:  0           8        9        12             16             16 + n
//              +-----------+--------+--------+--------------+--------------+----------------------+
//              | requestID | status | 0 × 3  | error length | error UTF-8  | payload              |
//              | u64       | u8     |        | u32 = n      |              | the rest of the body |
//              +-----------+--------+--------+--------------+--------------+----------------------+
//              status = PeerResponseStatus; the error text is empty when it is `ok`, the
//              payload empty when it is not.
//
// Versions: the frame header's version byte covers these layouts. A method's payload layout
// never changes under its number: a new layout is a new method, and a listener that does not
// know a method answers `unknownMethod`, so a caller can tell an older member from a failure.
// A member built before requests existed closes a connection whose hello names stream 3 (a
// protocol error to it): the caller sees the connection closed.

/// What a caller may ask another member. The payloads are defined by the callers and the
/// handler that serves them (see each case).
public enum PeerMethod: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    /// The listener's view of the cluster: its member list. The only method a caller outside
    /// the cluster (hello with cluster id 0 and member id 0: a member joining an existing
    /// cluster, which knows neither id yet) may call. Empty payload in.
    case members = 1
    /// Renew a lease on the leader's lessor (etcd's peer `/leases`): LeaseForwarding.swift.
    case leaseRenew = 2
    /// A lease's remaining time to live on the leader (etcd's peer `/leases/internal`).
    case leaseTimeToLive = 3

    public var description: String {
        switch self {
        case .members: "members"
        case .leaseRenew: "lease-renew"
        case .leaseTimeToLive: "lease-time-to-live"
        }
    }
}

/// How the listener answered a request.
public enum PeerResponseStatus: UInt8, Sendable, Hashable {
    case ok = 0
    /// The handler failed; the error text says why.
    case failed = 1
    /// The listener does not know the method (an older member).
    case unknownMethod = 2
    /// The caller may not call this method (a caller outside the cluster, or a removed member).
    case refused = 3
}

/// One request frame's body.
struct PeerRequestFrame: Hashable, Sendable {
    var id: UInt64
    /// The raw method number: a listener answers one it does not know with `unknownMethod`.
    var method: UInt16
    var payload: [UInt8]

    static let fixedBytes = 16

    func write(into buffer: inout ByteBuffer, frameBytesMax: Int) throws(PeerFrameError) {
        try PeerFrameCodec.write(.request, into: &buffer, frameBytesMax: frameBytesMax) { body in
            body.writeInteger(id, endianness: .little)
            body.writeInteger(method, endianness: .little)
            body.writeRepeatingByte(0, count: 6)
            body.writeBytes(payload)
        }
    }

    static func read(_ body: ByteBuffer) throws(PeerFrameError) -> PeerRequestFrame {
        var reader = BodyReader(buffer: body)
        let id = try reader.u64()
        let method = try reader.u16()
        guard try reader.bytes(6, "padding").allSatisfy({ $0 == 0 }) else { throw .malformed("request padding is not zero") }
        return PeerRequestFrame(id: id, method: method, payload: try reader.bytes(reader.remaining, "payload"))
    }
}

/// One response frame's body.
struct PeerResponseFrame: Hashable, Sendable {
    var id: UInt64
    var status: PeerResponseStatus
    var error: String
    var payload: [UInt8]

    /// The longest error text sent; longer ones are cut (they are for logs and messages).
    static let errorBytesMax = 4096

    func write(into buffer: inout ByteBuffer, frameBytesMax: Int) throws(PeerFrameError) {
        precondition(status == .ok || payload.isEmpty, "a failed response carries no payload")
        let text = Array(error.utf8.prefix(Self.errorBytesMax))
        try PeerFrameCodec.write(.response, into: &buffer, frameBytesMax: frameBytesMax) { body in
            body.writeInteger(id, endianness: .little)
            body.writeInteger(status.rawValue)
            body.writeRepeatingByte(0, count: 3)
            body.writeInteger(UInt32(text.count), endianness: .little)
            body.writeBytes(text)
            body.writeBytes(payload)
        }
    }

    static func read(_ body: ByteBuffer) throws(PeerFrameError) -> PeerResponseFrame {
        var reader = BodyReader(buffer: body)
        let id = try reader.u64()
        let statusByte = try reader.u8()
        guard let status = PeerResponseStatus(rawValue: statusByte) else { throw .malformed("unknown response status \(statusByte)") }
        guard try reader.bytes(3, "padding").allSatisfy({ $0 == 0 }) else { throw .malformed("response padding is not zero") }
        let errorBytes = Int(try reader.u32())
        guard errorBytes <= errorBytesMax else { throw .malformed("a response error text of \(errorBytes) bytes") }
        let error = String(decoding: try reader.bytes(errorBytes, "error text"), as: UTF8.self)
        let payload = try reader.bytes(reader.remaining, "payload")
        guard status == .ok || payload.isEmpty else { throw .malformed("a \(status) response with a payload") }
        return PeerResponseFrame(id: id, status: status, error: error, payload: payload)
    }
}

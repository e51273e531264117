import KeelMVCC
import NIOCore

// MARK: - Lease payloads of the peer requests `leaseRenew` and `leaseTimeToLive`
//
// A follower forwards keepalives and TimeToLive calls to the leader (etcd's peer `/leases`
// and `/leases/internal`), because only the leader counts lease time. Little-endian:
//
//   renew request:        0          8
//                         +----------+
//                         | lease ID |
//                         | i64      |
//                         +----------+
//   renew answer:         0         1       8          16
//                         +---------+-------+----------+
//                         | outcome | 0 × 7 | TTL      |
//                         | u8      |       | i64      |
//                         +---------+-------+----------+
//                         outcome = LeasePeerOutcome; TTL (seconds the countdown restarted
//                         from) only with `done`, else 0
//
//   timeToLive request:   0          8      9
//                         +----------+------+
//                         | lease ID | keys |
//                         | i64      | u8   |   keys = 1: list the attached keys
//                         +----------+------+
//   timeToLive answer:    0         1       8           16           24          28
//                         +---------+-------+-----------+------------+-----------+--------------------+
//                         | outcome | 0 × 7 | remaining | granted    | key count | per key: u32 length, |
//                         | u8      |       | TTL i64   | TTL i64    | u32       | then its bytes       |
//                         +---------+-------+-----------+------------+-----------+--------------------+
//                         the fields after the padding only with `done`

/// How the leader answered a forwarded lease call.
enum LeasePeerOutcome: UInt8, Sendable {
    /// Renewed / looked up: the fields that follow hold the answer.
    case done = 0
    /// No such lease (never granted, revoked, or expired and revoked).
    case notFound = 1
    /// The member asked is not the primary lessor (not the leader, or not promoted yet), or
    /// the lease expired and its revoke is on its way: ask again shortly, the leader then.
    case retry = 2
}

/// The renew answer.
enum LeasePeerRenewal: Hashable, Sendable {
    case renewed(ttlSeconds: Int64)
    case notFound
    case retry

    static func request(_ id: LeaseID) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(id.rawValue, endianness: .little)
        return Array(buffer.readableBytesView)
    }

    static func readRequest(_ payload: [UInt8]) throws(PeerFrameError) -> LeaseID {
        var reader = BodyReader(buffer: ByteBuffer(bytes: payload))
        let id = Int64(bitPattern: try reader.u64())
        guard reader.remaining == 0 else { throw .malformed("bytes after a lease renew request") }
        return LeaseID(id)
    }

    var encoded: [UInt8] {
        var buffer = ByteBuffer()
        let (outcome, ttl): (LeasePeerOutcome, Int64) = switch self {
        case .renewed(let ttl): (.done, ttl)
        case .notFound: (.notFound, 0)
        case .retry: (.retry, 0)
        }
        buffer.writeInteger(outcome.rawValue)
        buffer.writeRepeatingByte(0, count: 7)
        buffer.writeInteger(ttl, endianness: .little)
        return Array(buffer.readableBytesView)
    }

    init(decoding payload: [UInt8]) throws(PeerFrameError) {
        var reader = BodyReader(buffer: ByteBuffer(bytes: payload))
        let outcome = try Self.outcome(&reader)
        let ttl = Int64(bitPattern: try reader.u64())
        guard reader.remaining == 0 else { throw .malformed("bytes after a lease renew answer") }
        self = switch outcome {
        case .done: .renewed(ttlSeconds: ttl)
        case .notFound: .notFound
        case .retry: .retry
        }
    }

    static func outcome(_ reader: inout BodyReader) throws(PeerFrameError) -> LeasePeerOutcome {
        let byte = try reader.u8()
        guard let outcome = LeasePeerOutcome(rawValue: byte) else { throw .malformed("unknown lease outcome \(byte)") }
        _ = try reader.bytes(7, "padding")
        return outcome
    }
}

/// The timeToLive answer.
enum LeasePeerTimeToLive: Hashable, Sendable {
    /// What the leader's lessor said (LeaseStatus without the id, which the caller knows).
    struct Status: Hashable, Sendable {
        var remainingTTLSeconds: Int64
        var grantedTTLSeconds: Int64
        var keys: [[UInt8]]

        init(remainingTTLSeconds: Int64, grantedTTLSeconds: Int64, keys: [[UInt8]]) {
            self.remainingTTLSeconds = remainingTTLSeconds
            self.grantedTTLSeconds = grantedTTLSeconds
            self.keys = keys
        }

        init(_ status: LeaseStatus) {
            self.init(remainingTTLSeconds: status.remainingTTLSeconds, grantedTTLSeconds: status.grantedTTLSeconds, keys: status.keys)
        }
    }

    case found(Status)
    case notFound
    case retry

    static func request(_ id: LeaseID, keys: Bool) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(id.rawValue, endianness: .little)
        buffer.writeInteger(UInt8(keys ? 1 : 0))
        return Array(buffer.readableBytesView)
    }

    static func readRequest(_ payload: [UInt8]) throws(PeerFrameError) -> (id: LeaseID, keys: Bool) {
        var reader = BodyReader(buffer: ByteBuffer(bytes: payload))
        let id = Int64(bitPattern: try reader.u64())
        let keys = try reader.u8()
        guard keys <= 1, reader.remaining == 0 else { throw .malformed("a malformed lease time-to-live request") }
        return (LeaseID(id), keys == 1)
    }

    var encoded: [UInt8] {
        var buffer = ByteBuffer()
        switch self {
        case .found(let status):
            buffer.writeInteger(LeasePeerOutcome.done.rawValue)
            buffer.writeRepeatingByte(0, count: 7)
            buffer.writeInteger(status.remainingTTLSeconds, endianness: .little)
            buffer.writeInteger(status.grantedTTLSeconds, endianness: .little)
            buffer.writeInteger(UInt32(status.keys.count), endianness: .little)
            for key in status.keys {
                buffer.writeInteger(UInt32(key.count), endianness: .little)
                buffer.writeBytes(key)
            }
        case .notFound, .retry:
            buffer.writeInteger((self == .notFound ? LeasePeerOutcome.notFound : .retry).rawValue)
            buffer.writeRepeatingByte(0, count: 7)
        }
        return Array(buffer.readableBytesView)
    }

    init(decoding payload: [UInt8]) throws(PeerFrameError) {
        var reader = BodyReader(buffer: ByteBuffer(bytes: payload))
        switch try LeasePeerRenewal.outcome(&reader) {
        case .notFound: self = .notFound
        case .retry: self = .retry
        case .done:
            let remaining = Int64(bitPattern: try reader.u64())
            let granted = Int64(bitPattern: try reader.u64())
            let count = Int(try reader.u32())
            // Each key takes at least its 4-byte length: a count beyond that is a lie.
            guard count <= reader.remaining / 4 else { throw .malformed("\(count) keys in \(reader.remaining) bytes") }
            var keys: [[UInt8]] = []
            keys.reserveCapacity(count)
            for _ in 0..<count { keys.append(try reader.bytes(Int(try reader.u32()), "key")) }
            self = .found(Status(remainingTTLSeconds: remaining, grantedTTLSeconds: granted, keys: keys))
        }
        guard reader.remaining == 0 else { throw .malformed("bytes after a lease time-to-live answer") }
    }
}

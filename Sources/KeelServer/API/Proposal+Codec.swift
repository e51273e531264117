import KeelAPI
import SwiftProtobuf

extension Proposal {
    /// The bytes of the raft entry (layout in `Proposal`'s documentation). The protobuf body
    /// is serialized once and copied once behind the header.
    public func encoded() -> [UInt8] {
        let body: [UInt8]
        do {
            body = try request.serializedBody()
        } catch {
            // proto3 messages without required fields or Any always serialize.
            preconditionFailure("proposal \(id): \(error)")
        }
        return [UInt8](unsafeUninitializedCapacity: Self.headerBytes + body.count) { buffer, count in
            buffer[0] = Self.formatVersion
            buffer[1] = request.kind
            for index in 0..<8 { buffer[2 + index] = UInt8(truncatingIfNeeded: id >> (8 * UInt64(index))) }
            _ = UnsafeMutableBufferPointer(rebasing: buffer[Self.headerBytes...]).initialize(fromContentsOf: body)
            count = Self.headerBytes + body.count
        }
    }

    /// Reads the bytes of a raft entry. Throws, never traps, on bytes that are not a proposal.
    /// The request is decoded with SwiftProtobuf's default limits, those the gRPC server
    /// decodes requests with, so every proposal Keel wrote decodes again.
    public init(decoding bytes: [UInt8]) throws(ProposalDecodingError) {
        try self.init(decoding: bytes.span.bytes)
    }

    /// As `init(decoding:)` on an array, for entry bytes read in place (a WAL buffer); the
    /// request copies what it keeps, so `bytes` need not outlive the call.
    public init(decoding bytes: RawSpan) throws(ProposalDecodingError) {
        guard bytes.byteCount >= Self.headerBytes else { throw .truncated(byteCount: bytes.byteCount) }
        let version = bytes.unsafeLoad(fromByteOffset: 0, as: UInt8.self)
        guard version == Self.formatVersion else { throw .unknownVersion(version) }
        let kind = bytes.unsafeLoad(fromByteOffset: 1, as: UInt8.self)
        var id: UInt64 = 0
        for index in 0..<8 {
            id |= UInt64(bytes.unsafeLoad(fromByteOffset: 2 + index, as: UInt8.self)) << (8 * UInt64(index))
        }
        let request = try ProposalRequest(kind: kind, body: bytes.extracting(droppingFirst: Self.headerBytes))
        self.init(id: id, request: request)
    }

    /// True when `encoded` is too large to propose under `limits`: etcd compares its whole
    /// encoded raft request with `--max-request-bytes` and answers "request is too large"; the
    /// same bytes here are the header and the request.
    public static func exceedsLimit(_ encoded: [UInt8], _ limits: RequestLimits) -> Bool {
        !limits.admits(encodedProposalBytes: encoded.count)
    }
}

extension ProposalRequest {
    fileprivate func serializedBody() throws -> [UInt8] {
        switch self {
        case .put(let message): try message.serializedBytes()
        case .deleteRange(let message): try message.serializedBytes()
        case .txn(let message): try message.serializedBytes()
        case .compact(let message): try message.serializedBytes()
        case .leaseGrant(let message): try message.serializedBytes()
        case .leaseRevoke(let message): try message.serializedBytes()
        case .leaseCheckpoint(let message): try message.serializedBytes()
        case .alarm(let message): try message.serializedBytes()
        case .memberAttributes(let message): try message.serializedBytes()
        }
    }

    fileprivate init(kind: UInt8, body: RawSpan) throws(ProposalDecodingError) {
        do {
            switch kind {
            case 1: self = .put(try Etcdserverpb_PutRequest(serializedBytes: body))
            case 2: self = .deleteRange(try Etcdserverpb_DeleteRangeRequest(serializedBytes: body))
            case 3: self = .txn(try Etcdserverpb_TxnRequest(serializedBytes: body))
            case 4: self = .compact(try Etcdserverpb_CompactionRequest(serializedBytes: body))
            case 5: self = .leaseGrant(try Etcdserverpb_LeaseGrantRequest(serializedBytes: body))
            case 6: self = .leaseRevoke(try Etcdserverpb_LeaseRevokeRequest(serializedBytes: body))
            case 7: self = .leaseCheckpoint(try Etcdserverpb_LeaseCheckpointRequest(serializedBytes: body))
            case 8: self = .alarm(try Etcdserverpb_AlarmRequest(serializedBytes: body))
            case 9: self = .memberAttributes(try Etcdserverpb_Member(serializedBytes: body))
            default: throw ProposalDecodingError.unknownKind(kind)
            }
        } catch let error as ProposalDecodingError {
            throw error
        } catch {
            throw .malformedRequest(kind: kind)
        }
    }
}

import Foundation
import KeelAPI
import KeelTestSupport
import Testing
@testable import KeelServer

/// The raft entry format of a proposal: layout, round trips, refusal of foreign bytes.
@Suite struct ProposalCodecTests {
    static var every: [ProposalRequest] {
        var put = Etcdserverpb_PutRequest()
        put.key = Data("k".utf8)
        put.value = Data([0, 1, 2, 255])
        put.lease = 7
        put.prevKv = true
        put.ignoreValue = true
        put.ignoreLease = true
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = Data("a".utf8)
        delete.rangeEnd = Data([0])
        delete.prevKv = true
        var compact = Etcdserverpb_CompactionRequest()
        compact.revision = 1234
        compact.physical = true
        var grant = Etcdserverpb_LeaseGrantRequest()
        grant.ttl = 60
        grant.id = 0x7FFF_0000_0000_0001
        var revoke = Etcdserverpb_LeaseRevokeRequest()
        revoke.id = -5
        var checkpoint = Etcdserverpb_LeaseCheckpoint()
        checkpoint.id = 9
        checkpoint.remainingTtl = 30
        var checkpoints = Etcdserverpb_LeaseCheckpointRequest()
        checkpoints.checkpoints = [checkpoint, checkpoint]
        var alarm = Etcdserverpb_AlarmRequest()
        alarm.action = .activate
        alarm.memberID = 0x8E9E_05C5_2164_694D
        alarm.alarm = .nospace
        var attributes = Etcdserverpb_Member()
        attributes.id = 0x8E9E_05C5_2164_694D
        attributes.name = "m1"
        attributes.clientUrls = ["http://127.0.0.1:2379", "http://10.0.0.1:2379"]
        return [.put(put), .deleteRange(delete), .txn(Etcdserverpb_TxnRequest(APIConversionTests.txn)), .compact(compact),
                .leaseGrant(grant), .leaseRevoke(revoke), .leaseCheckpoint(checkpoints), .alarm(alarm),
                .memberAttributes(attributes)]
    }

    @Test func roundTripsEveryKind() throws {
        for (index, request) in Self.every.enumerated() {
            let proposal = Proposal(id: 0x0102_0304_0506_0708 &+ UInt64(index), request: request)
            let bytes = proposal.encoded()
            #expect(try Proposal(decoding: bytes) == proposal)
            // In place, from the middle of a larger buffer (as a WAL read hands it out).
            let framed = [0xEE, 0xEE] + bytes + [0xEE]
            #expect(try Proposal(decoding: framed.span.bytes.extracting(2..<(2 + bytes.count))) == proposal)
        }
        #expect(Set(Self.every.map(\.kind)) == Set(1...9))
    }

    @Test func layout() throws {
        var revoke = Etcdserverpb_LeaseRevokeRequest()
        revoke.id = 5
        let bytes = Proposal(id: 0x0102_0304_0506_0708, request: .leaseRevoke(revoke)).encoded()
        #expect(Array(bytes[0..<10]) == [1, 6, 8, 7, 6, 5, 4, 3, 2, 1])
        #expect(Array(bytes[10...]) == (try revoke.serializedBytes() as [UInt8]))
    }

    @Test func refusesForeignBytes() {
        let good = Proposal(id: 1, request: Self.every[0]).encoded()
        #expect(throws: ProposalDecodingError.truncated(byteCount: 9)) { try Proposal(decoding: Array(good[0..<9])) }
        #expect(throws: ProposalDecodingError.truncated(byteCount: 0)) { try Proposal(decoding: []) }
        var version = good
        version[0] = 2
        #expect(throws: ProposalDecodingError.unknownVersion(2)) { try Proposal(decoding: version) }
        var kind = good
        kind[1] = 10
        #expect(throws: ProposalDecodingError.unknownKind(10)) { try Proposal(decoding: kind) }
        kind[1] = 0
        #expect(throws: ProposalDecodingError.unknownKind(0)) { try Proposal(decoding: kind) }
        // A length-delimited field running past the end.
        #expect(throws: ProposalDecodingError.malformedRequest(kind: 1)) { try Proposal(decoding: Array(good[0..<10]) + [0x0A, 0x05, 0x61]) }
    }

    /// An empty request body is the message with every field at its default.
    @Test func headerOnlyIsTheEmptyRequest() throws {
        #expect(try Proposal(decoding: [1, 4, 0, 0, 0, 0, 0, 0, 0, 0]) == Proposal(id: 0, request: .compact(Etcdserverpb_CompactionRequest())))
    }

    @Test func requestSizeLimit() {
        var put = Etcdserverpb_PutRequest()
        put.key = Data("k".utf8)
        put.value = Data(repeating: 7, count: 1000)
        let bytes = Proposal(id: 1, request: .put(put)).encoded()
        #expect(!Proposal.exceedsLimit(bytes, RequestLimits(maxRequestBytes: bytes.count)))
        #expect(Proposal.exceedsLimit(bytes, RequestLimits(maxRequestBytes: bytes.count - 1)))
        #expect(!Proposal.exceedsLimit(bytes, RequestLimits()))
        put.value = Data(repeating: 7, count: 1_572_864)
        #expect(Proposal.exceedsLimit(Proposal(id: 1, request: .put(put)).encoded(), RequestLimits()))
        #expect(RequestLimits().receiveMessageBytesMax == 1_572_864 + 524_288)
    }

    /// Random bytes, every truncation and random byte changes of valid proposals: decoding
    /// throws or yields a proposal, and never traps. A decoded proposal encodes again.
    @Test func fuzz() {
        let seed = KeelSeedForAPI.value()
        print("ProposalCodecTests.fuzz seed \(seed) (replay with KEEL_SEED=\(seed))")
        var random = SeededGenerator(seed: seed)
        var decoded = 0
        func attempt(_ bytes: [UInt8]) {
            guard let proposal = try? Proposal(decoding: bytes) else { return }
            decoded += 1
            #expect((try? Proposal(decoding: proposal.encoded())) == proposal, "seed \(seed)")
        }
        for _ in 0..<3000 {
            var bytes = (0..<Int.random(in: 0..<64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            if bytes.count >= 2, Bool.random(using: &random) {
                bytes[0] = 1
                bytes[1] = UInt8.random(in: 1...8, using: &random)
            }
            attempt(bytes)
        }
        for (index, request) in Self.every.enumerated() {
            let good = Proposal(id: UInt64(index), request: request).encoded()
            for end in 0...good.count { attempt(Array(good[0..<end])) }
            for _ in 0..<300 {
                var bytes = good
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
                attempt(bytes)
            }
        }
        #expect(decoded > 0)
    }
}

import KeelIO
import KeelRaft
import KeelTestSupport
import NIOCore
import Testing
@testable import KeelServer

/// The peer frame and raft message codec: round trips of every network message type, and
/// refusal (a typed error, never a trap) of truncated, damaged, foreign and oversized frames.
@Suite struct PeerCodecTests {
    static let networkTypes = MessageType.allCases.filter { !$0.isLocal }

    static func randomMessage(_ type: MessageType, _ random: inout KeelRaft.SeededGenerator) -> KeelRaft.Message {
        func word() -> UInt64 { random.draw(below: 4) == 0 ? UInt64(random.draw(below: 3)) : random.next() }
        func bytes(_ max: Int) -> [UInt8] { (0..<random.draw(below: max + 1)).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
        var message = KeelRaft.Message(type: type, to: NodeID(word()), from: NodeID(word()), term: KeelRaft.Term(word()),
                                       logTerm: KeelRaft.Term(word()), index: KeelRaft.LogIndex(word()),
                                       commit: KeelRaft.LogIndex(word()), reject: random.draw(below: 2) == 0,
                                       rejectHintIndex: KeelRaft.LogIndex(word()), rejectHintTerm: KeelRaft.Term(word()),
                                       context: bytes(24))
        message.entries = (0..<random.draw(below: 6)).map { _ in
            Entry(term: KeelRaft.Term(word()), index: KeelRaft.LogIndex(word()), kind: random.draw(below: 3) == 0 ? .confChange : .normal,
                  data: bytes(200))
        }
        if random.draw(below: 3) == 0 {
            var ids = Set<UInt64>()
            while ids.count < random.draw(below: 7) { ids.insert(random.next()) }
            let shuffled = ids.sorted()
            let split = random.draw(below: shuffled.count + 1)
            let conf = ConfState(voters: shuffled[..<split].map { NodeID($0) }, learners: shuffled[split...].map { NodeID($0) })
            message.snapshot = Snapshot(metadata: SnapshotMetadata(index: KeelRaft.LogIndex(word()), term: KeelRaft.Term(word()), confState: conf),
                                        data: bytes(3000))
        }
        return message
    }

    @Test func everyNetworkTypeRoundTripsWithRandomFields() throws {
        let seed = KeelSeedForAPI.value()
        print("PeerCodecTests.everyNetworkTypeRoundTripsWithRandomFields seed \(seed) (replay with KEEL_SEED=\(seed))")
        var random = KeelRaft.SeededGenerator(seed: seed)
        #expect(Self.networkTypes.count == 14)
        for round in 0..<300 {
            for type in Self.networkTypes {
                let message = Self.randomMessage(type, &random)
                let frame = try RaftMessageCodec.encode(message)
                let (decoded, size) = try RaftMessageCodec.decode(frame + [0xAB, 0xCD])
                #expect(decoded == message, "round \(round) \(type)")
                #expect(size == frame.count)
            }
        }
        // An empty snapshot is still a snapshot, distinct from none.
        let empty = KeelRaft.Message(type: .snapshot, to: NodeID(2), from: NodeID(1), snapshot: Snapshot())
        #expect(try RaftMessageCodec.decode(RaftMessageCodec.encode(empty)).message == empty)
    }

    @Test func headerLayoutIsAsDocumented() throws {
        let message = KeelRaft.Message(type: .heartbeat, to: NodeID(2), from: NodeID(1), term: KeelRaft.Term(5), commit: KeelRaft.LogIndex(9))
        let frame = try RaftMessageCodec.encode(message)
        #expect(frame.count == PeerFrameCodec.headerBytes + RaftMessageCodec.fixedBytes)
        #expect(Array(frame[0..<4]) == [UInt8(RaftMessageCodec.fixedBytes), 0, 0, 0])
        #expect(frame[4] == PeerFrameCodec.version && frame[5] == PeerFrameKind.message.rawValue)
        let crc = frame[8..<12].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(crc == CRC32C.checksum(Array(frame[4..<8]) + Array(frame[12...])))
        #expect(frame[12] == 9 && frame[16] == 0)  // heartbeat's wire code, then the entry count
        #expect(frame[20] == 2 && frame[28] == 1 && frame[36] == 5 && frame[12 + 48] == 9)
    }

    @Test func everyTruncationIsRefused() throws {
        var random = KeelRaft.SeededGenerator(seed: 7)
        var message = Self.randomMessage(.append, &random)
        message.snapshot = nil
        message.entries = [Entry(term: KeelRaft.Term(3), index: KeelRaft.LogIndex(4), data: Array(repeating: 7, count: 100))]
        let frame = try RaftMessageCodec.encode(message)
        for cut in 0..<frame.count {
            #expect(throws: PeerFrameError.truncated(needed: cut < 12 ? 12 : frame.count, available: cut)) {
                try RaftMessageCodec.decode(Array(frame[..<cut]))
            }
        }
    }

    @Test func damagedBytesAreRefused() throws {
        var random = KeelRaft.SeededGenerator(seed: 11)
        let frame = try RaftMessageCodec.encode(Self.randomMessage(.append, &random))
        for offset in 0..<frame.count {
            var damaged = frame
            damaged[offset] ^= 0x10
            #expect(throws: PeerFrameError.self, "flip at \(offset)") { try RaftMessageCodec.decode(damaged) }
        }
        var versioned = frame
        versioned[4] = 2
        #expect(throws: PeerFrameError.unsupportedVersion(2)) { try RaftMessageCodec.decode(versioned) }
    }

    /// Bodies with a valid checksum but arbitrary contents reach the body parser: it must
    /// refuse them with an error (or, rarely, decode a message that encodes back the same).
    @Test func garbageBodiesNeverTrap() throws {
        let seed = KeelSeedForAPI.value()
        print("PeerCodecTests.garbageBodiesNeverTrap seed \(seed) (replay with KEEL_SEED=\(seed))")
        var random = KeelRaft.SeededGenerator(seed: seed)
        var refused = 0
        for round in 0..<3000 {
            var body: [UInt8]
            if round % 2 == 0 {
                body = (0..<random.draw(below: 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                // A valid body with a few bytes changed: reaches far deeper into the parser.
                let frame = try RaftMessageCodec.encode(Self.randomMessage(Self.networkTypes[random.draw(below: 14)], &random))
                body = Array(frame[PeerFrameCodec.headerBytes...])
                for _ in 0...random.draw(below: 3) where !body.isEmpty { body[random.draw(below: body.count)] = UInt8(truncatingIfNeeded: random.next()) }
            }
            var buffer = ByteBuffer()
            try PeerFrameCodec.write(.message, into: &buffer, frameBytesMax: 1 << 20) { $0.writeBytes(body) }
            let frame = Array(buffer.readableBytesView)
            do {
                let (message, _) = try RaftMessageCodec.decode(frame)
                #expect(try RaftMessageCodec.encode(message) == frame, "round \(round)")
            } catch {
                refused += 1
            }
        }
        #expect(refused > 1000)
        for length in 0..<200 {
            let garbage = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            #expect(throws: PeerFrameError.self) { try RaftMessageCodec.decode(garbage) }
        }
    }

    @Test func oversizedFramesAreRefusedBothWays() throws {
        let big = KeelRaft.Message(type: .append, to: NodeID(2), from: NodeID(1),
                                   entries: [Entry(term: KeelRaft.Term(1), index: KeelRaft.LogIndex(1), data: Array(repeating: 1, count: 1 << 20))])
        let size = PeerFrameCodec.headerBytes + RaftMessageCodec.fixedBytes + RaftMessageCodec.entryFixedBytes + (1 << 20)
        #expect(throws: PeerFrameError.frameTooLarge(bytes: size, limit: 1 << 20)) { try RaftMessageCodec.encode(big, frameBytesMax: 1 << 20) }
        var buffer = ByteBuffer(bytes: [9, 9])
        #expect(throws: PeerFrameError.self) { try RaftMessageCodec.encode(big, into: &buffer, frameBytesMax: 1 << 20) }
        #expect(Array(buffer.readableBytesView) == [9, 9], "a refused encode leaves the buffer as it was")
        let frame = try RaftMessageCodec.encode(big, frameBytesMax: 2 << 20)
        // The reader refuses on the header alone: it never waits for (or buffers) the body.
        var header = ByteBuffer(bytes: frame[..<PeerFrameCodec.headerBytes])
        #expect(throws: PeerFrameError.frameTooLarge(bytes: size, limit: 1 << 20)) {
            try PeerFrameCodec.read(from: &header, frameBytesMax: 1 << 20)
        }
        #expect(throws: PeerFrameError.frameTooLarge(bytes: size, limit: 1 << 20)) { try RaftMessageCodec.decode(frame, frameBytesMax: 1 << 20) }
    }

    @Test func handshakeFramesRoundTrip() throws {
        let hello = PeerHello(clusterID: 0xDEAD_BEEF_0000_0001, from: NodeID(7), to: NodeID(9), stream: .snapshot)
        var buffer = ByteBuffer()
        hello.write(into: &buffer)
        let frame = try #require(try PeerFrameCodec.read(from: &buffer, frameBytesMax: 1024))
        #expect(frame.kind == .hello && frame.body.readableBytes == 32)
        #expect(try PeerHello.read(frame.body) == hello)
        let reply = PeerHelloReply(status: .clusterMismatch, clusterID: 5, member: NodeID(9), reason: "request cluster ID mismatch")
        reply.write(into: &buffer)
        let replyFrame = try #require(try PeerFrameCodec.read(from: &buffer, frameBytesMax: 1024))
        #expect(try PeerHelloReply.read(replyFrame.body) == reply)
        // Stream 0xEE does not exist.
        var bad = ByteBuffer(bytes: Array(repeating: 0, count: 24) + [0xEE] + Array(repeating: 0, count: 7))
        #expect(throws: PeerFrameError.self) { try PeerHello.read(bad) }
        bad = ByteBuffer(bytes: [1, 2, 3])
        #expect(throws: PeerFrameError.self) { try PeerHelloReply.read(bad) }
    }
}

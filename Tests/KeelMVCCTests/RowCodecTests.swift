import KeelTestSupport
import Testing
@testable import KeelMVCC

@Suite struct RowCodecTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func encodesAsProtobufDoes() {
        // protoc --encode=mvccpb.KeyValue for {key:"foo" create_revision:2 mod_revision:3 version:1 value:"bar"}.
        let kv = KeyValue(key: bytes("foo"), createRevision: 2, modRevision: 3, version: 1, value: bytes("bar"))
        #expect(RowCodec.encode(kv) == [0x0A, 3, 0x66, 0x6F, 0x6F, 0x10, 2, 0x18, 3, 0x20, 1, 0x2A, 3, 0x62, 0x61, 0x72])
        // A lease of -1 is a ten-byte varint; a multi-byte revision; no value.
        let leased = KeyValue(key: [0], createRevision: 300, modRevision: 300, version: 1, value: [], lease: LeaseID(-1))
        #expect(RowCodec.encode(leased) == [0x0A, 1, 0, 0x10, 0xAC, 0x02, 0x18, 0xAC, 0x02, 0x20, 1,
                                            0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(RowCodec.encodeTombstone(key: bytes("a")) == [0x0A, 1, 0x61])
        #expect(RowCodec.decode([0x0A, 1, 0x61]) == KeyValue(key: bytes("a"), createRevision: 0, modRevision: 0, version: 0, value: []))
    }

    @Test func roundTripsRandomKeyValues() {
        let seed = KeelSeed.value()
        print("RowCodecTests.roundTripsRandomKeyValues seed \(seed) (replay with KEEL_SEED=\(seed))")
        var random = SeededGenerator(seed: seed)
        let extremes: [Int64] = [0, 1, -1, 127, 128, Int64.max, Int64.min, 1 << 35]
        for _ in 0..<2000 {
            func number() -> Int64 {
                Bool.random(using: &random) ? extremes.randomElement(using: &random)! : Int64.random(in: Int64.min...Int64.max, using: &random)
            }
            let kv = KeyValue(key: (0..<Int.random(in: 0..<40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) },
                              createRevision: number(), modRevision: number(), version: number(),
                              value: (0..<Int.random(in: 0..<300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) },
                              lease: LeaseID(number()))
            #expect(RowCodec.decode(RowCodec.encode(kv)) == kv)
        }
    }

    @Test func acceptsFieldsInAnyOrderRepeatedAndUnknown() {
        // value first, key twice (the last wins), an unknown varint field 9, an unknown fixed64
        // field 10, an unknown bytes field 11 and an unknown fixed32 field 12.
        let row: [UInt8] = [0x2A, 1, 0x76, 0x0A, 1, 0x61, 0x0A, 1, 0x62, 0x48, 0x96, 0x01,
                            0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5A, 2, 9, 9, 0x65, 1, 2, 3, 4, 0x20, 7]
        #expect(RowCodec.decode(row) == KeyValue(key: [0x62], createRevision: 0, modRevision: 0, version: 7, value: [0x76]))
    }

    @Test func refusesMalformedRows() {
        let good = RowCodec.encode(KeyValue(key: bytes("key"), createRevision: 5, modRevision: 9, version: 2, value: bytes("value"), lease: LeaseID(77)))
        let malformed: [[UInt8]] = [
            [0x0A, 5, 0x61],                       // length beyond the end
            [0x0A],                                // tag without payload
            [0x10],                                // varint missing
            [0x10, 0x80],                          // varint cut short
            [0x10] + [UInt8](repeating: 0xFF, count: 10) + [0x01],  // an eleven-byte varint
            [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x02],   // a tenth byte above 1
            [0x08, 1],                             // field 1 (key) as a varint: wrong wire type
            [0x12, 1, 0],                          // field 2 (create_revision) as bytes
            [0x00, 1],                             // field 0
            [0x0B, 0x0C],                          // a group (wire type 3)
            [0x4E, 1],                             // wire type 6
            [0x51, 1, 2, 3],                       // fixed64 cut short
            [0x65, 1],                             // fixed32 cut short
        ]
        for row in malformed { #expect(RowCodec.decode(row) == nil, "\(row)") }
        // Every proper prefix either ends between fields (a smaller message) or is refused.
        let boundaries: Set<Int> = [0, 5, 7, 9, 11, 18]
        for length in 0..<good.count {
            let decoded = RowCodec.decode(Array(good[0..<length]))
            #expect((decoded != nil) == boundaries.contains(length), "prefix \(length)")
        }
        #expect(RowCodec.decode(good)?.lease == LeaseID(77))
    }

    @Test func randomBytesNeverCrash() {
        let seed = KeelSeed.value()
        print("RowCodecTests.randomBytesNeverCrash seed \(seed) (replay with KEEL_SEED=\(seed))")
        var random = SeededGenerator(seed: seed)
        var decoded = 0
        for _ in 0..<20000 {
            let row = (0..<Int.random(in: 0..<24, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            if RowCodec.decode(row) != nil { decoded += 1 }
        }
        // Most random bytes are not messages; the point is that none of them traps.
        #expect(decoded < 20000)
    }
}

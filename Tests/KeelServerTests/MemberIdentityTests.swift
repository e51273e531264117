import Testing
@testable import KeelServer

@Suite struct MemberIdentityTests {
    @Test func sha1KnownAnswers() {
        #expect(hex(SHA1.digest([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex(SHA1.digest(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        // Two blocks: the padding spills into a second one.
        let twoBlocks = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(hex(SHA1.digest(twoBlocks)) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(hex(SHA1.digest([UInt8](repeating: 0x61, count: 1000))) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    /// etcd started with no flags names its member 8e9e05c52164694d in cluster cdf818194e3a8c32
    /// (peer URL http://localhost:2380, token etcd-cluster); Keel's defaults must give the same.
    @Test func etcdDefaultMember() {
        let member = MemberIdentity.memberID(peerURLs: ["http://localhost:2380"], clusterToken: "etcd-cluster")
        #expect(String(member, radix: 16) == "8e9e05c52164694d")
        #expect(String(MemberIdentity.clusterID(memberIDs: [member]), radix: 16) == "cdf818194e3a8c32")
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined()
    }
}

@Suite struct SHA256Tests {
    @Test func knownAnswersWholeAndInPieces() {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined() }
        var empty = SHA256()
        #expect(hex(empty.finish()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var abc = SHA256()
        abc.update(Array("abc".utf8))
        #expect(hex(abc.finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // A million 'a's fed in uneven pieces: block boundaries fall inside updates.
        var million = SHA256()
        var fed = 0
        var piece = 1
        while fed < 1_000_000 {
            let count = min(piece, 1_000_000 - fed)
            million.update([UInt8](repeating: 0x61, count: count))
            fed += count
            piece = piece * 3 % 1001 + 1
        }
        #expect(hex(million.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

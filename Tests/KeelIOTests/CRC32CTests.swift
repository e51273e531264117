import KeelIO
import KeelTestSupport
import Testing

@Suite struct CRC32CTests {
    // Check values from RFC 3720 (iSCSI), appendix B.4, and the catalogue "check" value.
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
        #expect(CRC32C.checksum([]) == 0)
    }

    /// The hardware path (three interleaved streams above 3 KiB), the slicing-by-8 table and
    /// the byte-wise table agree on every length and alignment.
    @Test func implementationsAgree() {
        let seed = UInt64(0xC3C3)
        print("CRC32CTests.implementationsAgree seed \(seed)")
        var random = SeededGenerator(seed: seed)
        let bytes = (0..<40_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        bytes.withUnsafeBytes { all in
            for length in Array(0..<300) + [3071, 3072, 3073, 6144, 9217, 20_000, 39_990] {
                for start in [0, 1, 3, 7] where start + length <= all.count {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<start + length])
                    let reference = CRC32C.bytewiseChecksum(slice)
                    #expect(CRC32C.tableChecksum(slice) == reference, "table, length \(length) start \(start)")
                    #expect(CRC32C.checksum(slice) == reference, "default, length \(length) start \(start)")
                }
            }
        }
    }

    @Test func continuingEqualsWhole() {
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        bytes.withUnsafeBytes { all in
            let whole = CRC32C.checksum(all)
            for cut in [0, 1, 100, 3072, 5000, 9999, 10_000] {
                let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[0..<cut]))
                let both = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[cut...]), continuing: first)
                #expect(both == whole, "cut at \(cut)")
            }
        }
    }
}

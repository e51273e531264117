import KeelIO

// MARK: - Meta pages
//
// Pages 0 and 1 of the file are meta pages. A commit writes its meta into page `txid % 2`,
// so the two alternate and the other always holds the previous commit: opening picks the
// valid one with the higher txid, with no recovery step. Only the first 64 bytes are used;
// the rest of the page is zero. All fields are little-endian:
//
//   0        4         8          12       16       24       32           40           56      60      64
//   +--------+---------+----------+--------+--------+--------+------------+------------+-------+-------+
//   | magic  | version | pageSize | flags  | txid   | root   | pageCount  | 0 × 16     | CRC   | 0     |
//   | u32    | u32     | u32      | u32    | u64    | u64    | u64        |            | u32   | u32   |
//   +--------+---------+----------+--------+--------+--------+------------+------------+-------+-------+
//
//   magic = "KEEL" (0x4C45454B read as u32 LE)   version = 1   flags = 0
//   root  = the page of the bucket directory's root, 0 when there is none yet
//   pageCount = pages [0, pageCount) belong to this version (the rest of the file is spare)
//   CRC   = CRC32C of bytes 0 ..< 56

/// The contents of one meta page.
public struct Meta: Hashable, Sendable {
    public static let magic: UInt32 = 0x4C45_454B
    public static let version: UInt32 = 1
    static let encodedBytes = 64
    static let checksummedBytes = 56

    public var pageSize: UInt32
    public var txid: TxID
    public var root: PageID
    public var pageCount: UInt64

    public init(pageSize: UInt32, txid: TxID, root: PageID, pageCount: UInt64) {
        self.pageSize = pageSize
        self.txid = txid
        self.root = root
        self.pageCount = pageCount
    }

    /// Which of the two meta pages this meta is written to.
    public var slot: PageID { PageID(txid.rawValue % 2) }

    /// Writes the 64 encoded bytes (checksum included) at `destination`.
    func encode(to destination: UnsafeMutableRawPointer) {
        destination.initializeMemory(as: UInt8.self, repeating: 0, count: Self.encodedBytes)
        destination.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        destination.storeBytes(of: Self.version.littleEndian, toByteOffset: 4, as: UInt32.self)
        destination.storeBytes(of: pageSize.littleEndian, toByteOffset: 8, as: UInt32.self)
        destination.storeBytes(of: txid.rawValue.littleEndian, toByteOffset: 16, as: UInt64.self)
        destination.storeBytes(of: root.rawValue.littleEndian, toByteOffset: 24, as: UInt64.self)
        destination.storeBytes(of: pageCount.littleEndian, toByteOffset: 32, as: UInt64.self)
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: destination, count: Self.checksummedBytes))
        destination.storeBytes(of: crc.littleEndian, toByteOffset: 56, as: UInt32.self)
    }

    /// Decodes and verifies a meta page; the error says what is wrong with it.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<Meta, MetaProblem> {
        guard bytes.count >= encodedBytes else { return .failure(.truncated) }
        func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        guard u32(0) == magic else { return .failure(.badMagic) }
        let stored = u32(56)
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<checksummedBytes])) == stored else {
            return .failure(.checksumMismatch)
        }
        guard u32(4) == version else { return .failure(.unsupportedVersion(u32(4))) }
        return .success(Meta(pageSize: u32(8), txid: TxID(u64(16)), root: PageID(u64(24)), pageCount: u64(32)))
    }
}

/// Why a meta page was not usable.
public enum MetaProblem: Error, Hashable, Sendable, CustomStringConvertible {
    case truncated
    case badMagic
    case checksumMismatch
    case unsupportedVersion(UInt32)
    case inconsistent(String)

    public var description: String {
        switch self {
        case .truncated: return "the page is cut short"
        case .badMagic: return "no Keel magic number"
        case .checksumMismatch: return "checksum mismatch"
        case .unsupportedVersion(let version): return "format version \(version) is not supported"
        case .inconsistent(let reason): return reason
        }
    }
}

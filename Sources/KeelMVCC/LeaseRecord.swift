/// One lease as the lessor holds it. Times are monotonic nanoseconds from the caller's clock.
struct LeaseRecord {
    let id: LeaseID
    /// The granted TTL, already raised to the minimum.
    let ttlSeconds: Int64
    /// The last checkpointed remaining TTL (0: none). A new leader restarts the lease from it
    /// rather than from the full TTL (etcd issue #9888).
    var remainingTTLSeconds: Int64
    /// When the lease expires; `Int64.max` while this member is not the leader ("forever").
    var expiryNanoseconds: Int64
    var keys: Set<[UInt8]> = []

    static let forever = Int64.max
    static let nanosecondsPerSecond: Int64 = 1_000_000_000

    /// The TTL a refresh starts from: the checkpointed remainder when there is one.
    var restartTTLSeconds: Int64 { remainingTTLSeconds > 0 ? remainingTTLSeconds : ttlSeconds }

    /// Restarts the countdown at `now`, `extend` nanoseconds later than the TTL alone says.
    mutating func refresh(nowNanoseconds now: Int64, extendNanoseconds extend: Int64 = 0) {
        expiryNanoseconds = Self.adding(now, extend, Self.nanoseconds(seconds: restartTTLSeconds))
    }

    /// Seconds left at `now` (truncated as etcd reports them), never below 0.
    func remainingSeconds(nowNanoseconds now: Int64) -> Int64 {
        if expiryNanoseconds == Self.forever { return restartTTLSeconds }
        return max(0, (expiryNanoseconds - now) / Self.nanosecondsPerSecond)
    }

    static func nanoseconds(seconds: Int64) -> Int64 {
        seconds >= Int64.max / nanosecondsPerSecond ? Int64.max : seconds * nanosecondsPerSecond
    }

    /// A saturating sum: a TTL near etcd's maximum (9e9 s) must not wrap a time around.
    static func adding(_ values: Int64...) -> Int64 {
        var sum: Int64 = 0
        for value in values {
            let (result, overflow) = sum.addingReportingOverflow(value)
            sum = overflow ? (value > 0 ? Int64.max : Int64.min) : result
        }
        return sum
    }

    // MARK: The `lease` bucket

    /// Key: the lease id, 8 bytes big-endian (so the bucket is in id order, as etcd's).
    /// Value, 25 bytes, integers little-endian:
    ///
    ///     0         1          9           17                25
    ///     +---------+----------+-----------+-----------------+
    ///     | format  | id       | ttl (s)   | remaining (s)   |
    ///     +---------+----------+-----------+-----------------+
    ///
    /// `format` is 1. The expiry is not stored: it is local to the leader.
    static let bucket = Array("lease".utf8)
    static let valueBytes = 25
    static let format: UInt8 = 1

    static func key(_ id: LeaseID) -> [UInt8] {
        withUnsafeBytes(of: UInt64(bitPattern: id.rawValue).bigEndian) { [UInt8]($0) }
    }

    func value() -> [UInt8] {
        var bytes: [UInt8] = [Self.format]
        bytes.reserveCapacity(Self.valueBytes)
        for field in [id.rawValue, ttlSeconds, remainingTTLSeconds] {
            withUnsafeBytes(of: field.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    /// Reads a stored lease; nil when the bytes are not one (a damaged row).
    init?(value bytes: some Collection<UInt8>) {
        let array = Array(bytes)
        guard array.count == Self.valueBytes, array[0] == Self.format else { return nil }
        func field(_ offset: Int) -> Int64 {
            var raw: UInt64 = 0
            for index in (0..<8).reversed() { raw = raw << 8 | UInt64(array[offset + index]) }
            return Int64(bitPattern: raw)
        }
        guard field(9) > 0, field(17) >= 0 else { return nil }
        self.init(id: LeaseID(field(1)), ttlSeconds: field(9), remainingTTLSeconds: field(17), expiryNanoseconds: Self.forever)
    }

    init(id: LeaseID, ttlSeconds: Int64, remainingTTLSeconds: Int64, expiryNanoseconds: Int64) {
        self.id = id
        self.ttlSeconds = ttlSeconds
        self.remainingTTLSeconds = remainingTTLSeconds
        self.expiryNanoseconds = expiryNanoseconds
    }
}

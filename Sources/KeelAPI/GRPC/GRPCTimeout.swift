import NIOCore

/// The `grpc-timeout` header: at most 8 ASCII digits and a unit (H, M, S, m, u, n).
public enum GRPCTimeout {
    /// The duration the header asks for, or nil when the value is malformed (the caller then
    /// fails the call: grpc-go answers a bad timeout with INTERNAL, we do the same).
    public static func parse(_ value: Substring) -> TimeAmount? {
        guard let unit = value.last, value.count >= 2, value.count <= 9 else { return nil }
        let digits = value.dropLast()
        guard digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let amount = Int64(digits)
        else { return nil }
        // 99,999,999 hours is far beyond Int64 nanoseconds; clamp rather than overflow.
        let nanosecondsMax = Int64.max
        func scaled(_ factor: Int64) -> TimeAmount {
            let (product, overflow) = amount.multipliedReportingOverflow(by: factor)
            return .nanoseconds(overflow ? nanosecondsMax : product)
        }
        switch unit {
        case "H": return scaled(3_600_000_000_000)
        case "M": return scaled(60_000_000_000)
        case "S": return scaled(1_000_000_000)
        case "m": return scaled(1_000_000)
        case "u": return scaled(1_000)
        case "n": return scaled(1)
        default: return nil
        }
    }

    /// The header value for a duration: the finest unit whose count fits in 8 digits.
    public static func format(_ amount: TimeAmount) -> String {
        let nanoseconds = max(amount.nanoseconds, 0)
        let units: [(Character, Int64)] = [
            ("n", 1), ("u", 1_000), ("m", 1_000_000), ("S", 1_000_000_000), ("M", 60_000_000_000),
            ("H", 3_600_000_000_000),
        ]
        for (unit, factor) in units {
            // Round up so the peer never sees a shorter deadline than asked for.
            let count = nanoseconds / factor + (nanoseconds % factor == 0 ? 0 : 1)
            if count <= 99_999_999 { return "\(count)\(unit)" }
        }
        return "99999999H"
    }
}

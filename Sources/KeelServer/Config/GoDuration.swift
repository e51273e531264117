/// Go's `time.Duration` text forms, for flag values etcd parses with `time.ParseDuration` and
/// for log fields zap prints with `Duration.String()`. Durations are signed nanoseconds.
enum GoDuration {
    /// Parses "300ms", "1.5h", "2h45m", "-1m", "0" as Go does; the error text is Go's.
    static func parse(_ text: String) -> Result<Int64, GoDurationError> {
        var rest = Substring(text)
        var negative = false
        if let sign = rest.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return .success(0) }
        if rest.isEmpty { return .failure(.invalid(text)) }
        var total: Double = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            // Go accepts ".5h" and "1.h"; Swift's Double(_:) wants digits on both sides.
            var digits = String(number)
            if digits.hasPrefix(".") { digits = "0" + digits }
            if digits.hasSuffix(".") { digits += "0" }
            guard number != ".", number.filter({ $0 == "." }).count <= 1, let value = Double(digits) else {
                return .failure(.invalid(text))
            }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            if unit.isEmpty { return .failure(.missingUnit(text)) }
            guard let scale = unitNanoseconds[String(unit)] else { return .failure(.unknownUnit(String(unit), text)) }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        guard total < Double(Int64.max) else { return .failure(.invalid(text)) }
        let nanoseconds = Int64(total.rounded(.towardZero))
        return .success(negative ? -nanoseconds : nanoseconds)
    }

    private static let unitNanoseconds: [String: Double] = [
        "ns": 1, "us": 1e3, "\u{00B5}s": 1e3, "\u{03BC}s": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9,
    ]

    /// Formats as Go's `Duration.String()`: "0s", "1.5µs", "100ms", "1m30s", "1h0m0s".
    static func format(nanoseconds: Int64) -> String {
        let negative = nanoseconds < 0
        let magnitude = nanoseconds.magnitude
        var text: String
        if magnitude < 1_000_000_000 {
            switch magnitude {
            case 0: return "0s"
            case ..<1_000: text = "\(magnitude)ns"
            case ..<1_000_000: text = fraction(magnitude, digits: 3) + "\u{00B5}s"
            default: text = fraction(magnitude, digits: 6) + "ms"
            }
        } else {
            let seconds = magnitude / 1_000_000_000
            text = fraction(magnitude % 1_000_000_000 + (seconds % 60) * 1_000_000_000, digits: 9) + "s"
            let minutes = seconds / 60
            if minutes > 0 {
                text = "\(minutes % 60)m" + text
                let hours = minutes / 60
                if hours > 0 { text = "\(hours)h" + text }
            }
        }
        return negative ? "-" + text : text
    }

    /// `value / 10^digits` with the fraction's trailing zeros (and a bare point) left out.
    private static func fraction(_ value: UInt64, digits: Int) -> String {
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        let whole = value / scale
        let remainder = value % scale
        guard remainder != 0 else { return "\(whole)" }
        var fractionDigits = String(remainder)
        fractionDigits = String(repeating: "0", count: digits - fractionDigits.count) + fractionDigits
        while fractionDigits.hasSuffix("0") { fractionDigits.removeLast() }
        return "\(whole).\(fractionDigits)"
    }
}

/// Go's `time.ParseDuration` errors, with Go's wording.
enum GoDurationError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    case missingUnit(String)
    case unknownUnit(String, String)

    var description: String {
        switch self {
        case .invalid(let text): return "time: invalid duration \"\(text)\""
        case .missingUnit(let text): return "time: missing unit in duration \"\(text)\""
        case .unknownUnit(let unit, let text): return "time: unknown unit \"\(unit)\" in duration \"\(text)\""
        }
    }
}

/// Go's `strconv` readers as Go's flag package uses them: base 0 (a "0x", "0o", "0b" or "0"
/// prefix picks the base), 64 bits, and Go's two error texts.
enum GoNumbers {
    enum NumberError: Error, Equatable, CustomStringConvertible {
        case syntax, range
        var description: String { self == .syntax ? "parse error" : "value out of range" }
    }

    /// `strconv.ParseBool`.
    static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }

    /// `strconv.ParseUint(text, 0, 64)`.
    static func parseUnsigned(_ text: String) -> Result<UInt64, NumberError> {
        var digits = Substring(text)
        var radix = 10
        let lower = digits.lowercased()
        if lower.hasPrefix("0x") { radix = 16; digits = digits.dropFirst(2) }
        else if lower.hasPrefix("0o") { radix = 8; digits = digits.dropFirst(2) }
        else if lower.hasPrefix("0b") { radix = 2; digits = digits.dropFirst(2) }
        else if digits.count > 1 && digits.hasPrefix("0") { radix = 8; digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isHexDigit && Int(String($0), radix: radix) != nil }) else {
            return .failure(.syntax)
        }
        guard let value = UInt64(digits, radix: radix) else { return .failure(.range) }
        return .success(value)
    }

    /// `strconv.ParseInt(text, 0, 64)`.
    static func parseSigned(_ text: String) -> Result<Int64, NumberError> {
        var body = text
        var negative = false
        if let sign = body.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            body.removeFirst()
        }
        switch parseUnsigned(body) {
        case .failure(let error): return .failure(error)
        case .success(let magnitude):
            if negative {
                guard magnitude <= UInt64(Int64.max) + 1 else { return .failure(.range) }
                return .success(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
            }
            guard magnitude <= UInt64(Int64.max) else { return .failure(.range) }
            return .success(Int64(magnitude))
        }
    }
}

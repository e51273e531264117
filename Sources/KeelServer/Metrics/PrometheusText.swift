/// Pieces of Prometheus's text exposition format 0.0.4, written the way client_golang writes
/// them so that a scrape of Keel reads like a scrape of etcd.
enum PrometheusText {
    /// The `Content-Type` of a text exposition.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// A sample value or bucket bound as Go's `strconv.FormatFloat(v, 'g', -1, 64)` prints it
    /// (what client_golang uses): the shortest digits that read back to `value`, in exponent
    /// form when the decimal exponent is below -4 or at least 6 (`1e-05`, `0.001`, `8.192`,
    /// `123456`, `1e+06`, `1.23456789e+08`), and `+Inf`, `-Inf`, `NaN`.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == 0 { return "0" }
        let sign = value < 0 ? "-" : ""
        // Swift's description is already the shortest round-trip form; only its layout differs.
        let (digits, pointPosition) = decimalDigits(of: value.magnitude.description)
        let exponent = pointPosition - 1
        if exponent < -4 || exponent >= 6 {
            var text = sign + String(digits.first!)
            if digits.count > 1 { text += "." + String(digits.dropFirst()) }
            let exponentDigits = String(abs(exponent))
            return text + (exponent < 0 ? "e-" : "e+") + (exponentDigits.count < 2 ? "0" : "") + exponentDigits
        }
        if pointPosition <= 0 { return sign + "0." + String(repeating: "0", count: -pointPosition) + digits }
        if pointPosition >= digits.count { return sign + digits + String(repeating: "0", count: pointPosition - digits.count) }
        let split = digits.index(digits.startIndex, offsetBy: pointPosition)
        return sign + digits[..<split] + "." + digits[split...]
    }

    /// The significant digits of a positive decimal text ("123.45", "1e-05", "1.5e+20") without
    /// leading or trailing zeros, and where the decimal point falls relative to them
    /// (value = 0.d1d2d3... × 10^pointPosition).
    private static func decimalDigits(of text: String) -> (digits: String, pointPosition: Int) {
        let parts = text.split(separator: "e", maxSplits: 1)
        let exponent = parts.count == 2 ? Int(parts[1])! : 0
        let mantissa = parts[0].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let integerPart = mantissa[0]
        let fractionPart = mantissa.count == 2 ? mantissa[1] : ""
        var digits = Substring(integerPart + fractionPart)
        var pointPosition = integerPart.count + exponent
        while digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        precondition(!digits.isEmpty, "decimalDigits of zero: \(text)")
        return (String(digits), pointPosition)
    }

    /// A label value with `\`, `"` and newline escaped, as the format requires.
    static func escapeLabelValue(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == 0x0A })
        else { return value }
        var escaped = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// A HELP text with `\` and newline escaped (quotes stay as they are in HELP lines).
    static func escapeHelp(_ help: String) -> String {
        help.replacingOccurrences("\\", with: "\\\\").replacingOccurrences("\n", with: "\\n")
    }

    /// `name="value",...` for parallel arrays of label names and values ("" when there are none).
    static func labelPairs(_ names: [String], _ values: [String]) -> String {
        precondition(names.count == values.count, "\(values.count) label values for labels \(names)")
        var text = ""
        for (index, name) in names.enumerated() {
            if index > 0 { text += "," }
            text += name + "=\"" + escapeLabelValue(values[index]) + "\""
        }
        return text
    }

    /// Whether `name` is a valid metric or label name (`[a-zA-Z_:][a-zA-Z0-9_:]*`; labels may not
    /// use ':', which the caller checks separately).
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else {
            return false
        }
        return name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: ":")
        }
    }
}

extension String {
    /// Plain substring replacement, without Foundation.
    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        guard contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

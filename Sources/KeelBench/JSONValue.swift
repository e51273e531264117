/// Just enough JSON for keel-bench's reports: objects keep their keys in the order given, so
/// the output is stable and diffable between runs.
enum JSONValue: Sendable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case integer(Int64)
    case unsigned(UInt64)
    /// Written with `decimals` digits after the point; NaN and infinities become null.
    case number(Double, decimals: Int)
    case bool(Bool)
    case null

    var rendered: String {
        var text = ""
        render(into: &text, indent: 0)
        return text
    }

    private func render(into text: inout String, indent: Int) {
        switch self {
        case .object(let members):
            guard !members.isEmpty else { text += "{}"; return }
            text += "{\n"
            for (i, (key, value)) in members.enumerated() {
                text += String(repeating: "  ", count: indent + 1)
                Self.quote(key, into: &text)
                text += ": "
                value.render(into: &text, indent: indent + 1)
                text += i + 1 < members.count ? ",\n" : "\n"
            }
            text += String(repeating: "  ", count: indent) + "}"
        case .array(let elements):
            guard !elements.isEmpty else { text += "[]"; return }
            text += "[\n"
            for (i, element) in elements.enumerated() {
                text += String(repeating: "  ", count: indent + 1)
                element.render(into: &text, indent: indent + 1)
                text += i + 1 < elements.count ? ",\n" : "\n"
            }
            text += String(repeating: "  ", count: indent) + "]"
        case .string(let value): Self.quote(value, into: &text)
        case .integer(let value): text += String(value)
        case .unsigned(let value): text += String(value)
        case .number(let value, let decimals):
            text += value.isFinite ? Format.fixed(value, decimals: decimals) : "null"
        case .bool(let value): text += value ? "true" : "false"
        case .null: text += "null"
        }
    }

    private static func quote(_ value: String, into text: inout String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}

/// JSON text written as Go's encoding/json writes it, for the hand-built bodies of /health,
/// /version and gateway errors (etcd builds them with json.Marshal or jsonpb).
enum GoJSON {
    /// A JSON string literal, quotes included. Like encoding/json: `"` and `\` escaped; \n, \r,
    /// \t short forms; other control characters and `<`, `>`, `&`, U+2028, U+2029 as \u00XX.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}": out += unicodeEscape(scalar.value)
            default:
                if scalar.value < 0x20 { out += unicodeEscape(scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }

    /// `{"k1":v1,"k2":v2}` from already-encoded values, in the order given.
    static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}

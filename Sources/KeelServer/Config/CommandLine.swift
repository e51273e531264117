/// Reads a command line with the rules of Go's `flag` package, which etcd uses:
///
/// - `-flag` and `--flag` are the same; `-flag=value` or `-flag value` for non-booleans;
///   booleans take `-flag` (true) or `-flag=value` only, never a separate argument.
/// - Parsing stops at the first argument that is not a flag ("-" alone counts as one) or after
///   "--"; whatever follows is returned as positional arguments.
/// - `-h`, `-help` (and `--` forms) ask for help, since no flag of those names is defined.
/// - A later occurrence of a flag overrides an earlier one.
enum GoCommandLine {
    enum Result {
        case parsed(FlagValues, positional: [String])
        case help
    }

    static func parse(_ arguments: [String]) throws(ConfigurationError) -> Result {
        var values = FlagValues()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.count >= 2, argument.hasPrefix("-") else { break }
            index += 1
            var name = Substring(argument.dropFirst())
            if name.hasPrefix("-") {
                name = name.dropFirst()
                if name.isEmpty { break }  // "--" ends the flags
            }
            if name.isEmpty || name.hasPrefix("-") || name.hasPrefix("=") {
                throw .syntax("bad flag syntax: \(argument)")
            }
            var attached: String?
            if let equals = name.firstIndex(of: "=") {
                attached = String(name[name.index(after: equals)...])
                name = name[..<equals]
            }
            guard let flag = FlagTable.lookup(String(name)) else {
                if name == "help" || name == "h" { return .help }
                throw .syntax("flag provided but not defined: -\(name)")
            }
            if flag.kind == .bool {
                if let error = values.set(flag, attached ?? "true", from: .commandLine) {
                    throw .syntax("invalid boolean value \(goQuoted(attached ?? "true")) for -\(flag.name): \(error)")
                }
                continue
            }
            guard let value = attached ?? (index < arguments.count ? arguments[index] : nil) else {
                throw .syntax("flag needs an argument: -\(flag.name)")
            }
            if attached == nil { index += 1 }
            if let error = values.set(flag, value, from: .commandLine) {
                throw .syntax("invalid value \(goQuoted(value)) for flag -\(flag.name): \(error)")
            }
        }
        return .parsed(values, positional: Array(arguments[index...]))
    }

    /// Go's `%q` for the plain strings flag values are: quotes, with `"` and `\` escaped and
    /// control characters as escapes.
    static func goQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

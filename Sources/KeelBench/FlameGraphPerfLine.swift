/// One frame line of `perf script` output, `<address> <symbol>+<offset> (<object>)`, e.g.
/// `\t    7f1c2a3b4c5d swift_retain+0x1d (/usr/lib/swift/linux/libswiftCore.so)`. The symbol may
/// hold spaces and parentheses once demangled (`closure #1 in Foo.bar(_:)`), so the object is
/// whatever follows the last ` (`.
struct FlameGraphPerfLine {
    let symbol: String
    let object: String

    init?(_ line: Substring) {
        var rest = line.drop { $0 == " " || $0 == "\t" }
        while rest.last == " " || rest.last == "\r" { rest = rest.dropLast() }
        guard let space = rest.firstIndex(of: " "), rest[..<space].allSatisfy(\.isHexDigit) else { return nil }
        rest = rest[rest.index(after: space)...]
        if rest.hasSuffix(")"), let open = rest.ranges(of: " (").last {
            object = String(rest[open.upperBound..<rest.index(before: rest.endIndex)])
            rest = rest[..<open.lowerBound]
        } else {
            object = "[unknown]"
        }
        symbol = String(Self.droppingOffset(rest))
    }

    /// The frame's name in a folded stack: kernel frames get `_[k]`; an unnamed frame is
    /// named by its object when perf knows it (`[libc.so.6]`), else `[unknown]`.
    var frameName: String {
        if symbol.isEmpty || symbol == "[unknown]" {
            guard object != "[unknown]", !object.isEmpty else { return "[unknown]" }
            let base = object.split(separator: "/").last.map(String.init) ?? object
            return base.hasPrefix("[") ? base : "[" + base + "]"
        }
        return object.hasPrefix("[kernel") ? symbol + "_[k]" : symbol
    }

    /// The thread name of a sample header `comm pid[/tid] [cpu] time: period event:`; the
    /// name may hold spaces, so it is everything before the pid field.
    static func command(ofHeader line: Substring) -> String {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        // The pid is the first all-digit (or pid/tid) field followed by a timestamp or a [cpu].
        for index in fields.indices.dropFirst() where isProcessID(fields[index]) {
            let next = index + 1 < fields.count ? fields[index + 1] : ""
            if next.hasPrefix("[") || next.hasSuffix(":") {
                return fields[..<index].joined(separator: " ")
            }
        }
        return fields.first.map(String.init) ?? "[unknown]"
    }

    private static func isProcessID(_ field: Substring) -> Bool {
        !field.isEmpty && field.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "/") } && field.first != "/"
    }

    /// `name+0x1d` → `name`; a name with no offset is returned whole.
    private static func droppingOffset(_ symbol: Substring) -> Substring {
        guard let plus = symbol.lastIndex(of: "+") else { return symbol }
        let offset = symbol[symbol.index(after: plus)...]
        guard offset.hasPrefix("0x"), offset.count > 2, offset.dropFirst(2).allSatisfy(\.isHexDigit) else { return symbol }
        return symbol[..<plus]
    }
}

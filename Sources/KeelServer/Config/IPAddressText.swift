/// Whether text is an IPv4 or IPv6 address literal, as Go's `net.ParseIP` decides it.
enum IPAddressText {
    static func isIPAddress(_ text: String) -> Bool { isIPv4(Substring(text)) || isIPv6(text) }

    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy({ $0.isASCII && $0.isNumber }) && UInt8(part) != nil && !(part.count > 1 && part.hasPrefix("0"))
        }
    }

    static func isIPv6(_ text: String) -> Bool {
        var groups = text.split(separator: ":", omittingEmptySubsequences: false)
        guard groups.count >= 3 else { return false }
        var limit = 8
        // An embedded IPv4 tail ("::ffff:1.2.3.4") stands for two groups.
        if let last = groups.last, last.contains(".") {
            guard isIPv4(last) else { return false }
            groups.removeLast()
            groups.append("0")
            limit = 7
        }
        let doubleColons = text.ranges(of: "::").count
        guard doubleColons <= 1, !text.contains(":::") else { return false }
        let nonEmpty = groups.filter { !$0.isEmpty }
        guard nonEmpty.allSatisfy({ $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }) else { return false }
        if doubleColons == 0 { return groups.count == limit && nonEmpty.count == groups.count }
        return nonEmpty.count < limit
    }
}

/// One URL given to a `--*-urls` flag or in `--initial-cluster`, checked as etcd's URL list
/// parser checks it: scheme http, https, unix or unixs; for http(s) a "host:port" authority and
/// no path. (Whether Keel can serve the scheme is decided later: TLS is refused at validation.)
public struct ConfiguredURL: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Lower-cased, as Go's URL parser leaves it.
    public let scheme: String
    /// The host without IPv6 brackets ("::1", "localhost", "10.0.0.1"); for unix URLs the part
    /// before the first "/" after "//".
    public let host: String
    /// The port for http(s) URLs; nil for unix URLs.
    public let port: Int?
    /// The path (unix URLs only; http URLs with a path are refused).
    public let path: String
    /// The URL as etcd prints it: scheme, "://", authority as given, path.
    public let description: String

    public static func < (lhs: ConfiguredURL, rhs: ConfiguredURL) -> Bool { lhs.description < rhs.description }

    /// Parses one URL; the error text is what etcd's `types.NewURLs` returns for it.
    static func parse(_ raw: String) throws(ConfigurationError) -> ConfiguredURL {
        let input = raw.trimmingSpaces()
        guard let schemeEnd = input.firstRange(of: "://") else {
            throw .syntax("URL scheme must be http, https, unix, or unixs: \(input)")
        }
        let scheme = String(input[..<schemeEnd.lowerBound]).lowercased()
        var rest = Substring(input[schemeEnd.upperBound...])
        // The fragment and query never reach the listener; Go's parser splits them off too.
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash]
        let path = String(rest[slash...])
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let text = "\(scheme)://\(authority)\(path)"
        switch scheme {
        case "http", "https":
            guard let (host, portText) = splitHostPort(authority) else {
                throw .syntax("URL address does not have the form \"host:port\": \(input)")
            }
            guard path.isEmpty else { throw .syntax("URL must not contain a path: \(input)") }
            // Go accepts any port text here and fails later at listen time; Keel says so now.
            guard let port = Int(portText), (0...65535).contains(port) else {
                throw .syntax("URL port must be a number from 0 to 65535: \(input)")
            }
            return ConfiguredURL(scheme: scheme, host: host, port: port, path: "", description: text)
        case "unix", "unixs":
            return ConfiguredURL(scheme: scheme, host: String(authority), port: nil, path: path, description: text)
        default:
            throw .syntax("URL scheme must be http, https, unix, or unixs: \(input)")
        }
    }

    /// Parses a comma-separated list as etcd's URL flags do: every element must parse, the
    /// result is sorted by text and duplicates are dropped.
    static func parseList(_ raw: String) throws(ConfigurationError) -> [ConfiguredURL] {
        var urls: [ConfiguredURL] = []
        for element in raw.split(separator: ",", omittingEmptySubsequences: false) {
            urls.append(try parse(String(element)))
        }
        var seen = Set<String>()
        return urls.sorted().filter { seen.insert($0.description).inserted }
    }

    /// Go's `net.SplitHostPort`: "host:port" or "[v6]:port"; nil when the form is wrong.
    static func splitHostPort(_ authority: Substring) -> (host: String, port: Substring)? {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let afterClose = authority.index(after: close)
            guard afterClose < authority.endIndex, authority[afterClose] == ":" else { return nil }
            let host = authority[authority.index(after: authority.startIndex)..<close]
            return (String(host), authority[authority.index(after: afterClose)...])
        }
        guard let colon = authority.lastIndex(of: ":") else { return nil }
        let host = authority[..<colon]
        // A bare IPv6 address without brackets has more than one colon: Go refuses it.
        guard !host.contains(":") else { return nil }
        return (String(host), authority[authority.index(after: colon)...])
    }
}

extension String {
    /// Go's `strings.TrimSpace` for the ASCII white space that appears in flag values.
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// The flags' values as text, checked when set, plus which flags were set and from where.
///
/// Reading and checking happen in `set` as in Go's flag package, where each flag's `Set` method
/// refuses a malformed value at once; the typed configuration is built from these texts later.
struct FlagValues: Sendable {
    private var text: [String: String]
    /// Flags given on the command line, in first-given order.
    private(set) var setOnCommandLine: [String] = []
    /// Flags taken from an ETCD_* variable, in the order applied.
    private(set) var setFromEnvironment: [String] = []

    init() {
        text = Dictionary(uniqueKeysWithValues: FlagTable.all.map { ($0.name, $0.defaultValue) })
    }

    subscript(name: String) -> String {
        guard let value = text[name] else { preconditionFailure("flag --\(name) is not in FlagTable") }
        return value
    }

    /// True when the flag was given on the command line or by its environment variable.
    func isSet(_ name: String) -> Bool { setOnCommandLine.contains(name) || setFromEnvironment.contains(name) }

    enum Origin { case commandLine, environment }

    /// Checks and stores `raw`; returns the error detail Go's `Value.Set` would (without the
    /// "invalid value ... for flag" prefix, which depends on the origin), nil on success.
    mutating func set(_ flag: FlagDefinition, _ raw: String, from origin: Origin) -> String? {
        switch flag.kind {
        case .string:
            text[flag.name] = raw
        case .bool:
            guard let value = GoNumbers.parseBool(raw) else { return "parse error" }
            text[flag.name] = value ? "true" : "false"
        case .unsigned:
            if case .failure(let error) = GoNumbers.parseUnsigned(raw) { return error.description }
            text[flag.name] = raw
        case .signed:
            if case .failure(let error) = GoNumbers.parseSigned(raw) { return error.description }
            text[flag.name] = raw
        case .duration:
            // Go's flag package reports any duration it cannot read as "parse error".
            guard case .success = GoDuration.parse(raw) else { return "parse error" }
            text[flag.name] = raw
        case .urls:
            // etcd lets "" through and keeps the list it had (its URL flags list "" as allowed).
            if !raw.isEmpty {
                do { _ = try ConfiguredURL.parseList(raw) } catch { return error.message }
                text[flag.name] = raw
            }
        case .choice(let accepted):
            guard accepted.contains(raw) else { return "invalid value (accepted: \(accepted.joined(separator: ", ")))" }
            text[flag.name] = raw
        }
        switch origin {
        case .commandLine: if !setOnCommandLine.contains(flag.name) { setOnCommandLine.append(flag.name) }
        case .environment: setFromEnvironment.append(flag.name)
        }
        return nil
    }
}

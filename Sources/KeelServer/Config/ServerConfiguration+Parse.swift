extension ServerConfiguration {
    /// Reads the command line (without argv[0]) and the environment as etcd 3.5 does.
    ///
    /// - Command line: Go flag syntax (see `GoCommandLine`); a positional argument is refused
    ///   with "'x' is not a valid flag". `--version` and `-h`/`--help` return `.version` and
    ///   `.help(usage)` without looking at the environment.
    /// - Environment: ETCD_<FLAG> sets a flag the command line did not set. A variable for a
    ///   flag also given on the command line is an error, as in etcd; unrecognized ETCD_*
    ///   variables (and ETCD_VERSION, never applied) become warning notices.
    /// - Then everything is checked (see `validated`), with etcd's messages where it has them.
    public static func parse(arguments: [String], environment: [String: String]) throws(ConfigurationError) -> ParseOutcome {
        guard case .parsed(var values, let positional) = try GoCommandLine.parse(arguments) else {
            return .help(FlagTable.usage)
        }
        if let first = positional.first { throw .invalid("'\(first)' is not a valid flag") }
        if values["version"] == "true" { return .version }
        let configFile = values["config-file"].isEmpty ? environment["ETCD_CONFIG_FILE"] ?? "" : values["config-file"]
        if !configFile.isEmpty {
            throw .invalid("--config-file is not supported by Keel (given \(GoCommandLine.goQuoted(configFile))); give the settings as flags or ETCD_* environment variables")
        }
        let notices = try applyEnvironment(environment, to: &values)
        return .run(try validated(values, notices: notices))
    }

    /// Sets flags from ETCD_* variables and reports what was used and what was not, in the
    /// order etcd does: all flags by name, then all variables by name (sorted, where etcd
    /// follows the process environment's order).
    static func applyEnvironment(_ environment: [String: String], to values: inout FlagValues) throws(ConfigurationError) -> [ConfigurationNotice] {
        var environment = environment
        var notices: [ConfigurationNotice] = []
        // etcd never lets ETCD_VERSION turn on --version: it drops the variable and warns.
        if let version = environment["ETCD_VERSION"], !version.isEmpty {
            environment["ETCD_VERSION"] = nil
            notices.append(ConfigurationNotice(level: .warn, message: "cannot set special environment variable",
                                               fields: [.string("key", "ETCD_VERSION"), .string("value", version)]))
        }
        let shadowed = Set(values.setOnCommandLine.map(FlagDefinition.environmentKey(for:)))
        var used = Set<String>()
        var settingError: ConfigurationError?
        for flag in FlagTable.all.sorted(by: { $0.name < $1.name }) where !shadowed.contains(flag.environmentKey) {
            guard let value = environment[flag.environmentKey], !value.isEmpty else { continue }
            used.insert(flag.environmentKey)
            if let detail = values.set(flag, value, from: .environment) {
                // Like etcd, keep going and report the last failure.
                settingError = .invalid("invalid value \(GoCommandLine.goQuoted(value)) for \(flag.environmentKey): \(detail)")
            } else {
                notices.append(ConfigurationNotice(level: .info, message: "recognized and used environment variable",
                                                   fields: [.string("variable-name", flag.environmentKey), .string("variable-value", value)]))
            }
        }
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) where !used.contains(key) {
            if shadowed.contains(key) {
                throw .invalid("conflicting environment variable is shadowed by corresponding command-line flag (either unset environment variable or disable flag)) (environment-variable: \(key))")
            }
            if key.hasPrefix("ETCD_") {
                notices.append(ConfigurationNotice(level: .warn, message: "unrecognized environment variable",
                                                   fields: [.string("environment-variable", key + "=" + value)]))
            }
        }
        if let settingError { throw settingError }
        return notices
    }
}

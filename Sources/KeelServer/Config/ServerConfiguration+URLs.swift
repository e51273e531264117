extension ServerConfiguration {
    struct URLFlags {
        var listenClient: [ConfiguredURL]
        var advertiseClient: [ConfiguredURL]
        var listenPeer: [ConfiguredURL]
        var advertisePeer: [ConfiguredURL]
    }

    /// The four URL flags, with etcd's checks: listeners bind to an IP address or "localhost",
    /// advertised URLs name a host. Keel also refuses TLS schemes, which it cannot serve yet.
    static func readURLs(_ values: FlagValues) throws(ConfigurationError) -> URLFlags {
        func list(_ flag: String) throws(ConfigurationError) -> [ConfiguredURL] {
            let urls: [ConfiguredURL]
            do { urls = try ConfiguredURL.parseList(values[flag]) } catch { preconditionFailure("--\(flag) was stored without being checked") }
            try refuseTLS(urls, flag: flag)
            return urls
        }
        let urls = URLFlags(listenClient: try list("listen-client-urls"), advertiseClient: try list("advertise-client-urls"),
                            listenPeer: try list("listen-peer-urls"), advertisePeer: try list("initial-advertise-peer-urls"))
        try checkBindable(urls.listenPeer)
        try checkBindable(urls.listenClient)
        try checkHosts(urls.advertisePeer, flag: "initial-advertise-peer-urls")
        // etcd does not check advertised client URLs when --listen-client-urls was given
        // without them: that case fails on its own just after the timeouts are checked.
        if !values.isSet("listen-client-urls") || values.isSet("advertise-client-urls") {
            try checkHosts(urls.advertiseClient, flag: "advertise-client-urls")
        }
        return urls
    }

    static func refuseTLS(_ urls: [ConfiguredURL], flag: String) throws(ConfigurationError) {
        if let secure = urls.first(where: { $0.scheme == "https" || $0.scheme == "unixs" }) {
            throw .invalid("--\(flag) \(GoCommandLine.goQuoted(secure.description)): TLS is not supported by Keel yet; use http:// or unix:// URLs")
        }
    }

    /// etcd's bind check: a listener's host must be an IP address or "localhost".
    private static func checkBindable(_ urls: [ConfiguredURL]) throws(ConfigurationError) {
        for url in urls where url.scheme == "http" || url.scheme == "https" {
            if url.host != "localhost" && !IPAddressText.isIPAddress(url.host) {
                throw .invalid("expected IP in URL for binding (\(url))")
            }
        }
    }

    /// etcd's advertise check: every URL has a non-empty host and a port.
    private static func checkHosts(_ urls: [ConfiguredURL], flag: String) throws(ConfigurationError) {
        let all = GoCommandLine.goQuoted(urls.map(\.description).joined(separator: ","))
        for url in urls {
            let reason: String
            if url.port == nil {
                reason = "address \(url.host): missing port in address"
            } else if url.host.isEmpty {
                reason = "unexpected empty host (\(url))"
            } else {
                continue
            }
            throw .invalid("--\(flag) \(all) must be \"host:port\" (\(reason))")
        }
    }

    /// `--auto-compaction-mode` and `--auto-compaction-retention` as etcd reads them: a
    /// non-negative integer is hours (periodic) or revisions (revision), anything else must be a
    /// Go duration. Keel refuses a duration in revision mode and a negative retention, which
    /// etcd would accept and misread.
    static func readAutoCompaction(_ values: FlagValues) throws(ConfigurationError) -> AutoCompaction {
        let mode = values["auto-compaction-mode"]
        guard mode == "periodic" || mode == "revision" else {
            throw .invalid("unknown auto-compaction-mode \(GoCommandLine.goQuoted(mode)) (accepted: periodic, revision)")
        }
        let retention = values["auto-compaction-retention"]
        if let count = UInt64(retention) {
            if count == 0 { return .off }
            if mode == "revision" { return .revision(count) }
            guard count <= UInt64(Int64.max / 3600) else {
                throw .invalid("error parsing CompactionRetention: \(retention) hours is out of range")
            }
            return .periodic(.seconds(Int64(count) * 3600))
        }
        if mode == "revision" {
            throw .invalid("--auto-compaction-retention \(GoCommandLine.goQuoted(retention)) must be a number of revisions when --auto-compaction-mode is revision")
        }
        switch GoDuration.parse(retention) {
        case .failure(let error):
            throw .invalid("error parsing CompactionRetention: \(error)")
        case .success(let nanoseconds) where nanoseconds < 0:
            throw .invalid("--auto-compaction-retention \(GoCommandLine.goQuoted(retention)) must not be negative")
        case .success(0):
            return .off
        case .success(let nanoseconds):
            return .periodic(.nanoseconds(nanoseconds))
        }
    }
}

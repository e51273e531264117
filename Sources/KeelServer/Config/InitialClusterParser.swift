/// Reads `--initial-cluster` ("name=url,name=url,...") and checks it against this member, with
/// etcd's rules and messages.
enum InitialClusterParser {
    /// The members sorted by name, each with its peer URLs sorted.
    ///
    /// For a new cluster this member's URLs in the list must equal `--initial-advertise-peer-urls`
    /// (compared as text: etcd would also resolve host names, Keel does not look up DNS). A URL
    /// may not appear twice across members; this member's name must be present.
    static func members(_ text: String, name: String, state: InitialClusterState,
                        advertisePeerURLs: [ConfiguredURL]) throws(ConfigurationError) -> [InitialClusterMember] {
        let members = try parse(text)
        guard let local = members.first(where: { $0.name == name }) else {
            throw .invalid("couldn't find local name \(GoCommandLine.goQuoted(name)) in the initial cluster configuration")
        }
        if state == .new {
            try checkAdvertiseMatches(local: local, advertisePeerURLs: advertisePeerURLs)
        }
        var seen = Set<String>()
        for member in members {
            for url in member.peerURLs where !seen.insert(url.description).inserted {
                throw .invalid("initial cluster \(render(members)) has duplicate url")
            }
        }
        return members
    }

    /// etcd's `types.NewURLsMap`: split on ",", skip empty items, split each at the first "="
    /// (a missing "=" gives an empty URL, which fails), group URLs by name.
    static func parse(_ text: String) throws(ConfigurationError) -> [InitialClusterMember] {
        var urlsByName: [String: [ConfiguredURL]] = [:]
        for item in text.split(separator: ",") {
            let name: Substring
            let urlText: Substring
            if let equals = item.firstIndex(of: "=") {
                name = item[..<equals]
                urlText = item[item.index(after: equals)...]
            } else {
                name = item
                urlText = ""
            }
            let url: ConfiguredURL
            do { url = try ConfiguredURL.parse(String(urlText)) } catch { throw .invalid(error.message) }
            try ServerConfiguration.refuseTLS([url], flag: "initial-cluster")
            urlsByName[String(name), default: []].append(url)
        }
        return urlsByName.keys.sorted().map { InitialClusterMember(name: $0, peerURLs: urlsByName[$0, default: []].sorted()) }
    }

    private static func checkAdvertiseMatches(local: InitialClusterMember, advertisePeerURLs: [ConfiguredURL]) throws(ConfigurationError) {
        let clusterURLs = local.peerURLs.map(\.description)
        let advertised = advertisePeerURLs.map(\.description).sorted()
        guard clusterURLs != advertised else { return }
        let reason: String
        if clusterURLs.count != advertised.count {
            reason = "len(\(goList(advertised))) != len(\(goList(clusterURLs)))"
        } else {
            let (a, b) = zip(advertised, clusterURLs).first { $0 != $1 }!
            reason = "resolved urls: \(GoCommandLine.goQuoted(a)) != \(GoCommandLine.goQuoted(b))"
        }
        let missingFromAdvertise = clusterURLs.filter { !advertised.contains($0) }
        if !missingFromAdvertise.isEmpty {
            let listed = missingFromAdvertise.map { "\(local.name)=\($0)" }.joined(separator: ",")
            throw .invalid("--initial-cluster has \(listed) but missing from --initial-advertise-peer-urls=\(advertised.joined(separator: ",")) (\(reason))")
        }
        let missingFromCluster = advertised.filter { !clusterURLs.contains($0) }
        let asCluster = advertised.map { "\(local.name)=\($0)" }.joined(separator: ",")
        if missingFromCluster.isEmpty {
            // Same URLs but listed twice in --initial-cluster: etcd's last resort message.
            throw .invalid("failed to resolve \(advertised.joined(separator: ",")) to match --initial-cluster=\(asCluster) (\(reason))")
        }
        throw .invalid("--initial-advertise-peer-urls has \(missingFromCluster.joined(separator: ",")) but missing from --initial-cluster=\(asCluster)")
    }

    /// etcd's `URLsMap.String()`: "name=url" pairs sorted as text.
    static func render(_ members: [InitialClusterMember]) -> String {
        members.flatMap { member in member.peerURLs.map { "\(member.name)=\($0)" } }.sorted().joined(separator: ",")
    }

    /// Go's `%q` of a string slice: `["a" "b"]`.
    private static func goList(_ items: [String]) -> String {
        "[" + items.map(GoCommandLine.goQuoted).joined(separator: " ") + "]"
    }
}

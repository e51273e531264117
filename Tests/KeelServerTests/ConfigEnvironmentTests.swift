import Testing
@testable import KeelServer

/// ETCD_* variables as etcd 3.5 applies them.
@Suite struct ConfigEnvironmentTests {
    @Test func variableSetsAFlag() throws {
        let config = try run([], environment: [
            "ETCD_NAME": "envname", "ETCD_HEARTBEAT_INTERVAL": "20", "ETCD_ELECTION_TIMEOUT": "200",
            "ETCD_ENABLE_V2": "false", "ETCD_LISTEN_PEER_URLS": "http://127.0.0.1:9",
        ])
        #expect(config.name == "envname")
        // A name from the environment builds the initial cluster as one from the command line does.
        #expect(config.initialCluster.map(\.name) == ["envname"])
        #expect(config.dataDirectory == "envname.keel")
        #expect(config.heartbeatIntervalMilliseconds == 20)
        #expect(config.electionTimeoutMilliseconds == 200)
        #expect(config.listenPeerURLs.map(\.description) == ["http://127.0.0.1:9"])
        let used = config.notices.filter { $0.message == "recognized and used environment variable" }
        // Applied in flag-name order, as etcd visits its flags.
        #expect(used.map(\.fields.first) == [
            .string("variable-name", "ETCD_ELECTION_TIMEOUT"), .string("variable-name", "ETCD_ENABLE_V2"),
            .string("variable-name", "ETCD_HEARTBEAT_INTERVAL"), .string("variable-name", "ETCD_LISTEN_PEER_URLS"),
            .string("variable-name", "ETCD_NAME"),
        ])
        #expect(used.first?.fields.last == .string("variable-value", "200"))
    }

    @Test func bothSetIsAnError() {
        let error = parseError(["--name", "cli"], environment: ["ETCD_NAME": "env"])
        #expect(error == .invalid("conflicting environment variable is shadowed by corresponding command-line flag (either unset environment variable or disable flag)) (environment-variable: ETCD_NAME)"))
        #expect(error?.exitStatus == 1)
        // etcd refuses even an empty variable for a flag given on the command line.
        #expect(parseError(["--name", "cli"], environment: ["ETCD_NAME": ""]) != nil)
    }

    @Test func unrecognizedVariableIsAWarning() throws {
        let config = try run([], environment: ["ETCD_NAMEX": "1", "ETCDCTL_API": "3", "HOME": "/root"])
        let warnings = config.notices.filter { $0.level == .warn && $0.message == "unrecognized environment variable" }
        #expect(warnings.map(\.fields) == [[.string("environment-variable", "ETCD_NAMEX=1")]])
    }

    @Test func emptyVariableIsNotApplied() throws {
        // etcd skips an empty value and then reports the variable as unrecognized.
        let config = try run([], environment: ["ETCD_NAME": ""])
        #expect(config.name == "default")
        #expect(config.notices.contains { $0.message == "unrecognized environment variable" && $0.fields == [.string("environment-variable", "ETCD_NAME=")] })
    }

    @Test func versionVariableIsNeverApplied() throws {
        let config = try run([], environment: ["ETCD_VERSION": "true"])
        #expect(config.notices.first == ConfigurationNotice(level: .warn, message: "cannot set special environment variable",
                                                             fields: [.string("key", "ETCD_VERSION"), .string("value", "true")]))
        #expect(!config.notices.contains { $0.message == "unrecognized environment variable" })
    }

    @Test func badValueNamesTheVariable() {
        #expect(parseError([], environment: ["ETCD_SNAPSHOT_COUNT": "lots"])
            == .invalid("invalid value \"lots\" for ETCD_SNAPSHOT_COUNT: parse error"))
        #expect(parseError([], environment: ["ETCD_LISTEN_CLIENT_URLS": "localhost:2379"])
            == .invalid("invalid value \"localhost:2379\" for ETCD_LISTEN_CLIENT_URLS: URL scheme must be http, https, unix, or unixs: localhost:2379"))
    }

    @Test func listenClientFromEnvironmentNeedsAdvertise() throws {
        #expect(parseError([], environment: ["ETCD_LISTEN_CLIENT_URLS": "http://127.0.0.1:1"])?.message
            == "--advertise-client-urls is required when --listen-client-urls is set explicitly")
        let config = try run(["--advertise-client-urls=http://h:1"], environment: ["ETCD_LISTEN_CLIENT_URLS": "http://127.0.0.1:1"])
        #expect(config.clientListenAddresses == [.tcp(host: "127.0.0.1", port: 1)])
    }

    @Test func configFileIsRefused() {
        #expect(parseError([], environment: ["ETCD_CONFIG_FILE": "/etc/etcd.yml"])?.message.hasPrefix("--config-file is not supported by Keel") == true)
        #expect(parseError(["--config-file=/etc/etcd.yml"])?.message.hasPrefix("--config-file is not supported by Keel") == true)
    }
}

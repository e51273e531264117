import Testing
@testable import KeelServer

/// Flag defaults and the values derived from them, against etcd 3.5's.
@Suite struct ConfigDefaultsTests {
    @Test func everyFlagHasEtcdsDefault() throws {
        let config = try run([])
        #expect(config.name == "default")
        #expect(config.dataDirectory == "default.keel")
        #expect(config.dedicatedWALDirectory == nil)
        #expect(config.listenClientURLs.map(\.description) == ["http://localhost:2379"])
        #expect(config.advertiseClientURLs.map(\.description) == ["http://localhost:2379"])
        #expect(config.listenPeerURLs.map(\.description) == ["http://localhost:2380"])
        #expect(config.initialAdvertisePeerURLs.map(\.description) == ["http://localhost:2380"])
        #expect(config.initialCluster.map(\.name) == ["default"])
        #expect(config.initialCluster.first?.peerURLs.map(\.description) == ["http://localhost:2380"])
        #expect(config.initialClusterState == .new)
        #expect(config.initialClusterToken == "etcd-cluster")
        #expect(config.snapshotCount == 100_000)
        #expect(config.heartbeatIntervalMilliseconds == 100)
        #expect(config.electionTimeoutMilliseconds == 1000)
        #expect(config.quotaBackendBytesFlag == 0)
        #expect(config.maxRequestBytes == 1_572_864)
        #expect(config.maxTxnOps == 128)
        #expect(config.autoCompaction == .off)
        #expect(config.logLevel == .info)
        #expect(config.walIO == .sync)
        #expect(config.watchProgressNotifyIntervalNanoseconds == 600_000_000_000)
        #expect(config.leaseCheckpointsEnabled)
        #expect(config.leaseCheckpointIntervalNanoseconds == 300_000_000_000)
    }

    @Test func derivedValues() throws {
        let config = try run([])
        #expect(config.clientListenAddresses == [.tcp(host: "127.0.0.1", port: 2379)])
        #expect(config.peerListenAddresses == [.tcp(host: "127.0.0.1", port: 2380)])
        #expect(config.memberPeerURLs == ["http://localhost:2380"])
        #expect(config.walDirectory == "default.keel/member/wal")
        #expect(config.backendPath == "default.keel/member/snap/db")
        let twoGiB: Int64 = 2_147_483_648
        #expect(config.backendQuotaBytes == twoGiB)
        #expect(config.electionTicks == 10)
        // The only notice of a bare start: the data directory was defaulted, as etcd warns.
        #expect(config.notices.map(\.message) == ["'data-dir' was empty; using default"])
    }

    @Test func derivedValuesFollowFlags() throws {
        let config = try run(["--data-dir", "/var/lib/k", "--wal-dir", "/fast/wal", "--quota-backend-bytes", "1048576",
                              "--listen-client-urls", "http://0.0.0.0:1,http://[::1]:2,unix://sock:3",
                              "--advertise-client-urls", "http://a:1"])
        #expect(config.walDirectory == "/fast/wal")
        #expect(config.backendPath == "/var/lib/k/member/snap/db")
        #expect(config.backendQuotaBytes == 1_048_576)
        // Sorted as etcd sorts URL lists.
        #expect(config.clientListenAddresses == [.tcp(host: "0.0.0.0", port: 1), .tcp(host: "::1", port: 2), .unix(path: "sock:3")])
        #expect(try run(["--quota-backend-bytes=-1"]).backendQuotaBytes == nil)
    }

    @Test func nameAloneBuildsTheInitialCluster() throws {
        let config = try run(["--name", "infra1"])
        #expect(config.dataDirectory == "infra1.keel")
        #expect(config.initialCluster == [InitialClusterMember(name: "infra1", peerURLs: config.initialAdvertisePeerURLs)])
        // With several advertised URLs each becomes one "<name>=<url>" entry.
        let two = try run(["--name=n", "--initial-advertise-peer-urls=http://10.0.0.2:2380,http://10.0.0.1:2380"])
        #expect(two.initialCluster.count == 1)
        #expect(two.initialCluster[0].peerURLs.map(\.description) == ["http://10.0.0.1:2380", "http://10.0.0.2:2380"])
    }

    @Test func snapshotCountZeroMeansDefault() throws {
        let config = try run(["--snapshot-count=0"])
        #expect(config.snapshotCount == 100_000)
        #expect(config.notices.contains { $0.message == "updating snapshot-count to default" })
    }

    @Test func helpAndVersionOutcomes() throws {
        for arguments in [["-h"], ["--help"], ["-help"], ["--h"], ["--name=x", "-h", "--bogus"]] {
            guard case .help(let text) = try ServerConfiguration.parse(arguments: arguments, environment: [:]) else {
                Issue.record("\(arguments) did not ask for help"); continue
            }
            #expect(text.contains("--listen-client-urls 'http://localhost:2379'"))
            #expect(text.contains("--wal-io 'sync'"))
        }
        guard case .version = try ServerConfiguration.parse(arguments: ["--version"], environment: ["ETCD_BOGUS": "1"]) else {
            Issue.record("--version did not ask for the version"); return
        }
    }
}

/// Parses and expects a configuration to run.
func run(_ arguments: [String], environment: [String: String] = [:]) throws -> ServerConfiguration {
    guard case .run(let config) = try ServerConfiguration.parse(arguments: arguments, environment: environment) else {
        throw ConfigurationError(.invalidConfiguration, "expected a configuration to run for \(arguments)")
    }
    return config
}

/// The error parsing gives, or nil when it succeeds.
func parseError(_ arguments: [String], environment: [String: String] = [:]) -> ConfigurationError? {
    do {
        _ = try ServerConfiguration.parse(arguments: arguments, environment: environment)
        return nil
    } catch {
        return error
    }
}

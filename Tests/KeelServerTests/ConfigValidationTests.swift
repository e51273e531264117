import Testing
@testable import KeelServer

/// Every check on the whole configuration, with etcd's messages where etcd has them.
@Suite struct ConfigValidationTests {
    @Test func urlSyntax() {
        #expect(parseError(["--listen-peer-urls=localhost:2380"])
            == .syntax("invalid value \"localhost:2380\" for flag -listen-peer-urls: URL scheme must be http, https, unix, or unixs: localhost:2380"))
        #expect(parseError(["--listen-peer-urls=http://localhost"])
            == .syntax("invalid value \"http://localhost\" for flag -listen-peer-urls: URL address does not have the form \"host:port\": http://localhost"))
        #expect(parseError(["--listen-peer-urls=http://localhost:2380/x"])
            == .syntax("invalid value \"http://localhost:2380/x\" for flag -listen-peer-urls: URL must not contain a path: http://localhost:2380/x"))
        #expect(parseError(["--listen-peer-urls=http://localhost:http"])
            == .syntax("invalid value \"http://localhost:http\" for flag -listen-peer-urls: URL port must be a number from 0 to 65535: http://localhost:http"))
    }

    @Test func tlsIsRefused() {
        #expect(parseError(["--listen-client-urls=https://127.0.0.1:2379", "--advertise-client-urls=https://h:2379"])?.message
            == "--listen-client-urls \"https://127.0.0.1:2379\": TLS is not supported by Keel yet; use http:// or unix:// URLs")
        #expect(parseError(["--initial-cluster=default=https://localhost:2380"])?.message
            == "--initial-cluster \"https://localhost:2380\": TLS is not supported by Keel yet; use http:// or unix:// URLs")
    }

    @Test func bindingNeedsAnIP() {
        #expect(parseError(["--listen-peer-urls=http://example.com:2380"])?.message == "expected IP in URL for binding (http://example.com:2380)")
        #expect(parseError(["--listen-peer-urls=http://[fe80::1]:2380"]) == nil)
        #expect(parseError(["--listen-peer-urls=http://300.1.1.1:2380"]) != nil)
    }

    @Test func ipAddressLiterals() {
        for valid in ["127.0.0.1", "0.0.0.0", "::1", "::", "fe80::1", "1:2:3:4:5:6:7:8", "::ffff:1.2.3.4", "2001:db8::"] {
            #expect(IPAddressText.isIPAddress(valid), "\(valid)")
        }
        for invalid in ["localhost", "1.2.3", "1.2.3.256", "01.2.3.4", "1::2::3", ":::", "1:2:3:4:5:6:7:8:9", "12345::", "g::1", "+1.2.3.4", ""] {
            #expect(!IPAddressText.isIPAddress(invalid), "\(invalid)")
        }
    }

    @Test func advertisedURLsNeedAHost() {
        #expect(parseError(["--initial-advertise-peer-urls=http://:2380"])?.message
            == "--initial-advertise-peer-urls \"http://:2380\" must be \"host:port\" (unexpected empty host (http://:2380))")
        #expect(parseError(["--advertise-client-urls=http://:2379"])?.message
            == "--advertise-client-urls \"http://:2379\" must be \"host:port\" (unexpected empty host (http://:2379))")
    }

    @Test func timeouts() {
        #expect(parseError(["--election-timeout=400"])?.message
            == "--election-timeout[400ms] should be at least as 5 times as --heartbeat-interval[100ms]")
        #expect(parseError(["--election-timeout=500"]) == nil)
        #expect(parseError(["--heartbeat-interval=0"])?.message == "--heartbeat-interval must be >0 (set to 0ms)")
        #expect(parseError(["--election-timeout=0"])?.message == "--election-timeout must be >0 (set to 0ms)")
        #expect(parseError(["--election-timeout=50001"])?.message
            == "--election-timeout[50001ms] is too long, and should be set less than 50000ms")
    }

    @Test func listenClientNeedsAdvertise() {
        #expect(parseError(["--listen-client-urls=http://127.0.0.1:1"])?.message
            == "--advertise-client-urls is required when --listen-client-urls is set explicitly")
    }

    @Test func sizesMustBePositive() {
        #expect(parseError(["--max-request-bytes=0"])?.message == "--max-request-bytes must be >0 (set to 0)")
        #expect(parseError(["--max-txn-ops=0"])?.message == "--max-txn-ops must be >0 (set to 0)")
    }

    @Test func durationsAreGoDurationsAboveZero() throws {
        #expect(parseError(["--experimental-watch-progress-notify-interval=abc"])
            == .syntax("invalid value \"abc\" for flag -experimental-watch-progress-notify-interval: parse error"))
        #expect(parseError(["--lease-checkpoint-interval=5"])
            == .syntax("invalid value \"5\" for flag -lease-checkpoint-interval: parse error"))
        #expect(parseError(["--experimental-watch-progress-notify-interval=0"])?.message
            == "--experimental-watch-progress-notify-interval must be >0 (set to 0s)")
        #expect(parseError(["--lease-checkpoint-interval=-1m"])?.message == "--lease-checkpoint-interval must be >0 (set to -1m0s)")
        let config = try run(["--experimental-watch-progress-notify-interval=1.5s", "--lease-checkpoint-interval", "2m",
                              "--experimental-enable-lease-checkpoint=false"])
        #expect(config.watchProgressNotifyIntervalNanoseconds == 1_500_000_000)
        #expect(config.leaseCheckpointIntervalNanoseconds == 120_000_000_000)
        #expect(!config.leaseCheckpointsEnabled)
        let fromEnvironment = try run([], environment: ["ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL": "250ms"])
        #expect(fromEnvironment.watchProgressNotifyIntervalNanoseconds == 250_000_000)
    }

    @Test func enumValuesListTheAccepted() {
        #expect(parseError(["--log-level=verbose"])?.message
            == "unknown --log-level \"verbose\" (accepted: debug, info, warn, error, panic, fatal)")
        #expect(parseError(["--wal-io=mmap"])?.message == "unknown --wal-io \"mmap\" (accepted: auto, uring, sync)")
        #expect(parseError(["--auto-compaction-mode=daily"])?.message
            == "unknown auto-compaction-mode \"daily\" (accepted: periodic, revision)")
        #expect(parseError(["--logger=capnslog"])?.message == "--logger=capnslog is removed in v3.5")
        #expect(parseError(["--logger=glog"])?.message == "unknown logger option \"glog\" (accepted: zap)")
    }

    @Test func autoCompactionRetention() throws {
        #expect(try run(["--auto-compaction-retention=1"]).autoCompaction == .periodic(.seconds(3600)))
        #expect(try run(["--auto-compaction-retention=30m"]).autoCompaction == .periodic(.seconds(1800)))
        #expect(try run(["--auto-compaction-retention=1h30m"]).autoCompaction == .periodic(.seconds(5400)))
        #expect(try run(["--auto-compaction-retention=1.5s"]).autoCompaction == .periodic(.milliseconds(1500)))
        #expect(try run(["--auto-compaction-retention=0s"]).autoCompaction == .off)
        #expect(try run(["--auto-compaction-mode=revision", "--auto-compaction-retention=0"]).autoCompaction == .off)
        #expect(try run(["--auto-compaction-mode=revision", "--auto-compaction-retention=500"]).autoCompaction == .revision(500))
        #expect(parseError(["--auto-compaction-retention=abc"])?.message == "error parsing CompactionRetention: time: invalid duration \"abc\"")
        #expect(parseError(["--auto-compaction-retention=5x"])?.message == "error parsing CompactionRetention: time: unknown unit \"x\" in duration \"5x\"")
        #expect(parseError(["--auto-compaction-retention=-1h"]) != nil)
        #expect(parseError(["--auto-compaction-mode=revision", "--auto-compaction-retention=1h"])?.message
            == "--auto-compaction-retention \"1h\" must be a number of revisions when --auto-compaction-mode is revision")
    }

    @Test func initialClusterMustHoldThisMember() {
        #expect(parseError(["--name=a", "--initial-cluster=b=http://localhost:2380"])?.message
            == "couldn't find local name \"a\" in the initial cluster configuration")
        #expect(parseError(["--initial-cluster-state=existing", "--initial-cluster=b=http://h:1"])?.message
            == "couldn't find local name \"default\" in the initial cluster configuration")
    }

    @Test func emptyNameIsNotInTheCluster() {
        #expect(parseError(["--name="])?.message == "couldn't find local name \"\" in the initial cluster configuration")
    }

    @Test func initialClusterMustMatchAdvertisedURLs() {
        #expect(parseError(["--initial-cluster=default=http://10.0.0.1:2380"])?.message
            == "--initial-cluster has default=http://10.0.0.1:2380 but missing from --initial-advertise-peer-urls=http://localhost:2380 (resolved urls: \"http://localhost:2380\" != \"http://10.0.0.1:2380\")")
        #expect(parseError(["--initial-advertise-peer-urls=http://localhost:2380,http://127.0.0.1:2380"])?.message
            == "--initial-advertise-peer-urls has http://127.0.0.1:2380 but missing from --initial-cluster=default=http://127.0.0.1:2380,default=http://localhost:2380")
        // Joining an existing cluster does not compare them, as in etcd.
        #expect(parseError(["--initial-cluster-state=existing", "--initial-cluster=default=http://10.0.0.1:2380"]) == nil)
    }

    @Test func initialClusterSyntaxAndDuplicates() throws {
        #expect(parseError(["--initial-cluster=default"])?.message == "URL scheme must be http, https, unix, or unixs: ")
        #expect(parseError(["--initial-cluster=default=http://localhost:2380,b=http://localhost:2380"])?.message
            == "initial cluster b=http://localhost:2380,default=http://localhost:2380 has duplicate url")
        let config = try run(["--name=b", "--initial-advertise-peer-urls=http://10.0.0.2:2380",
                              "--initial-cluster=c=http://10.0.0.3:2380,,b=http://10.0.0.2:2380,a=http://10.0.0.1:2380"])
        #expect(config.initialCluster.map(\.name) == ["a", "b", "c"])
    }

    @Test func defaultNameWithChangedPeerURLsKeepsEtcdsDefaultCluster() {
        // etcd fills --initial-cluster from --name only when the name is not "default".
        #expect(parseError(["--initial-advertise-peer-urls=http://10.0.0.1:2380"])?.message.hasPrefix("--initial-cluster has default=http://localhost:2380") == true)
    }
}

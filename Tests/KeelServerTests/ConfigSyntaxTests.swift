import Testing
@testable import KeelServer

/// Go flag syntax as etcd reads its command line.
@Suite struct ConfigSyntaxTests {
    @Test(arguments: [
        ["--name", "a"], ["--name=a"], ["-name", "a"], ["-name=a"],
    ])
    func bothDashesAndBothValueForms(arguments: [String]) throws {
        #expect(try run(arguments).name == "a")
    }

    @Test func everyFlagSets() throws {
        let config = try run([
            "--name", "m1", "--data-dir", "/d", "--wal-dir=/w",
            "--listen-client-urls", "http://127.0.0.1:12379", "--advertise-client-urls", "http://10.1.1.1:12379",
            "--listen-peer-urls", "http://127.0.0.1:12380", "--initial-advertise-peer-urls", "http://10.1.1.1:12380",
            "--initial-cluster", "m1=http://10.1.1.1:12380,m2=http://10.1.1.2:12380", "--initial-cluster-state", "existing",
            "--initial-cluster-token", "tok", "--snapshot-count", "5000", "--heartbeat-interval", "50",
            "--election-timeout", "500", "--quota-backend-bytes", "0x100000", "--max-request-bytes", "1024",
            "--max-txn-ops", "64", "--auto-compaction-mode", "revision", "--auto-compaction-retention", "1000",
            "--log-level", "debug", "--logger", "zap", "--enable-v2=false", "--wal-io", "uring",
        ])
        #expect(config.name == "m1")
        #expect(config.dataDirectory == "/d")
        #expect(config.walDirectory == "/w")
        #expect(config.clientListenAddresses == [.tcp(host: "127.0.0.1", port: 12379)])
        #expect(config.advertiseClientURLs.map(\.description) == ["http://10.1.1.1:12379"])
        #expect(config.peerListenAddresses == [.tcp(host: "127.0.0.1", port: 12380)])
        #expect(config.memberPeerURLs == ["http://10.1.1.1:12380"])
        #expect(config.initialCluster.map(\.name) == ["m1", "m2"])
        #expect(config.initialClusterState == .existing)
        #expect(config.initialClusterToken == "tok")
        #expect(config.snapshotCount == 5000)
        #expect(config.heartbeatIntervalMilliseconds == 50)
        #expect(config.electionTimeoutMilliseconds == 500)
        #expect(config.backendQuotaBytes == 1_048_576)
        #expect(config.maxRequestBytes == 1024)
        #expect(config.maxTxnOps == 64)
        #expect(config.autoCompaction == .revision(1000))
        #expect(config.logLevel == .debug)
        #expect(config.walIO == .uring)
        #expect(config.notices.map(\.message) == ["--enable-v2 is deprecated in 3.5 and will be decommissioned in 3.6."])
    }

    @Test func booleans() throws {
        #expect(parseError(["--enable-v2=false"]) == nil)
        #expect(parseError(["--enable-v2=0"]) == nil)
        // A bare boolean flag means true, and the next argument is not its value.
        #expect(parseError(["--enable-v2"])?.message == "--enable-v2=true is not supported: Keel serves only the v3 API")
        #expect(parseError(["--enable-v2", "false"])?.message == "'false' is not a valid flag")
        #expect(parseError(["--enable-v2=maybe"]) == .syntax("invalid boolean value \"maybe\" for -enable-v2: parse error"))
    }

    @Test func laterOccurrenceWins() throws {
        #expect(try run(["--name=a", "--name", "b"]).name == "b")
    }

    @Test func valueMayStartWithDash() throws {
        // Go takes the next argument as the value whatever it looks like.
        #expect(try run(["--data-dir", "-odd"]).dataDirectory == "-odd")
    }

    @Test func unknownFlag() {
        #expect(parseError(["--bogus"]) == .syntax("flag provided but not defined: -bogus"))
        #expect(parseError(["-bogus=1"]) == .syntax("flag provided but not defined: -bogus"))
        #expect(parseError(["--bogus"])?.exitStatus == 2)
    }

    @Test func positionalArgument() {
        #expect(parseError(["x"]) == .invalid("'x' is not a valid flag"))
        #expect(parseError(["--name", "a", "extra", "--bogus"]) == .invalid("'extra' is not a valid flag"))
        #expect(parseError(["-"]) == .invalid("'-' is not a valid flag"))
        // "--" ends the flags: what follows is positional.
        #expect(parseError(["--", "--name=a"]) == .invalid("'--name=a' is not a valid flag"))
        #expect(parseError(["x"])?.exitStatus == 1)
    }

    @Test func badSyntaxAndMissingValue() {
        #expect(parseError(["---name=a"]) == .syntax("bad flag syntax: ---name=a"))
        #expect(parseError(["-=a"]) == .syntax("bad flag syntax: -=a"))
        #expect(parseError(["--name"]) == .syntax("flag needs an argument: -name"))
    }

    @Test func numbersAsGoReadsThem() throws {
        #expect(try run(["--snapshot-count=0x10"]).snapshotCount == 16)
        #expect(try run(["--snapshot-count=010"]).snapshotCount == 8)
        #expect(try run(["--snapshot-count=0b11"]).snapshotCount == 3)
        #expect(parseError(["--snapshot-count=ten"]) == .syntax("invalid value \"ten\" for flag -snapshot-count: parse error"))
        #expect(parseError(["--snapshot-count=-1"]) == .syntax("invalid value \"-1\" for flag -snapshot-count: parse error"))
        #expect(parseError(["--max-txn-ops=99999999999999999999"]) == .syntax("invalid value \"99999999999999999999\" for flag -max-txn-ops: value out of range"))
        #expect(parseError(["--quota-backend-bytes=1.5"]) == .syntax("invalid value \"1.5\" for flag -quota-backend-bytes: parse error"))
    }

    @Test func choiceFlagRefusedWhileSetting() {
        #expect(parseError(["--initial-cluster-state=maybe"])
            == .syntax("invalid value \"maybe\" for flag -initial-cluster-state: invalid value (accepted: new, existing)"))
    }

    @Test func emptyURLFlagKeepsTheDefault() throws {
        #expect(try run(["--listen-peer-urls="]).listenPeerURLs.map(\.description) == ["http://localhost:2380"])
    }

    @Test func urlListsAreSortedAndDeduplicated() throws {
        let config = try run(["--listen-peer-urls", "http://127.0.0.2:1, http://127.0.0.1:1,http://127.0.0.2:1"])
        #expect(config.listenPeerURLs.map(\.description) == ["http://127.0.0.1:1", "http://127.0.0.2:1"])
    }
}

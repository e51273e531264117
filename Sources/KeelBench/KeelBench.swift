import ArgumentParser

/// `keel-bench`: measurements of Keel's storage paths on the machine it runs on.
struct KeelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keel-bench",
        abstract: "Benchmarks of Keel's storage paths on this machine.",
        // --version also reports what the numbers depend on: allocator, io_uring, CRC32C.
        version: HostReport.current().versionText,
        subcommands: [WALCommand.self, StorageCommand.self, RaftCommand.self, MVCCCommand.self, NetworkPutCommand.self, NetworkRangeCommand.self,
                      NetworkTxnPutCommand.self, NetworkTxnMixedCommand.self, NetworkWatchCommand.self,
                      NetworkLeaseKeepAliveCommand.self, FlameGraphCommand.self]
    )
}

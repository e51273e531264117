import KeelAPI
import NIOCore
import NIOPosix

/// A server on a free 127.0.0.1 port with the test KV service, stopped by `with` on every path.
struct GRPCTestHarness {
    let group: MultiThreadedEventLoopGroup
    let applyGroup: MultiThreadedEventLoopGroup
    let service: TestKVService
    let server: GRPCServer

    /// Runs `body` against a fresh server, then closes the server and its event loops.
    static func with<T>(
        configuration: GRPCConnectionConfiguration = GRPCConnectionConfiguration(),
        _ body: (GRPCTestHarness) async throws -> T
    ) async throws -> T {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let applyGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let service = TestKVService(applyLoop: applyGroup.next())
        let harness: GRPCTestHarness
        do {
            let server = try await GRPCServer.start(
                host: "127.0.0.1", port: 0, group: group, methods: service.methods, configuration: configuration
            ).get()
            harness = GRPCTestHarness(group: group, applyGroup: applyGroup, service: service, server: server)
        } catch {
            try await group.shutdownGracefully()
            try await applyGroup.shutdownGracefully()
            throw error
        }
        let result: Result<T, any Error>
        do { result = .success(try await body(harness)) } catch { result = .failure(error) }
        try? await harness.server.close().get()  // a test may have closed it already
        // Shutting the loops down closes every connection still open.
        try await group.shutdownGracefully()
        try await applyGroup.shutdownGracefully()
        return try result.get()
    }

    func connect(configuration: GRPCConnectionConfiguration = GRPCConnectionConfiguration()) async throws -> GRPCClient {
        try await GRPCClient.connect(host: "127.0.0.1", port: server.port, group: group, configuration: configuration)
            .get()
    }
}

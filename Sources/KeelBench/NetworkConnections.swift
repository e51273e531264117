import KeelAPI
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP/2 connections of one network run, opened round robin over the endpoints on an
/// event loop group sized to the connections (at most one thread per core).
final class NetworkConnections {
    let group: MultiThreadedEventLoopGroup
    let clients: [GRPCClient]

    /// Connects `options.conns` connections; a refused or unreachable endpoint is a
    /// `BenchFailure` naming it, after the connections already made are closed.
    init(_ options: NetworkOptions) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: min(options.conns, System.coreCount))
        var made: [GRPCClient] = []
        let targets = options.targets
        for index in 0..<options.conns {
            let target = targets[index % targets.count]
            do {
                made.append(try GRPCClient.connect(host: target.host, port: target.port, group: group).wait())
            } catch {
                for connection in made { try? connection.close().wait() }
                try? group.syncShutdownGracefully()
                throw BenchFailure("cannot connect to \(target.host):\(target.port): \(Self.describe(error))")
            }
        }
        clients = made
    }

    /// NIO's connection errors list every address tried; the first underlying error (such as
    /// "connection refused") is what a user needs.
    private static func describe(_ error: any Error) -> String {
        var underlying = error
        if let connection = error as? NIOConnectionError, let first = connection.connectionErrors.first {
            underlying = first.error
        }
        if let io = underlying as? IOError {
            let reason = String(cString: strerror(io.errnoCode))
            return io.errnoCode == ECONNREFUSED ? reason + " (is the server running there?)" : reason
        }
        return "\(underlying)"
    }

    func close() {
        for connection in clients { try? connection.close().wait() }
        try? group.syncShutdownGracefully()
    }
}

import KeelAPI
import KeelIO
import NIOCore
import NIOPosix

/// A running `keel`: the node, its client listeners (gRPC and the HTTP gateway on each
/// --listen-client-urls address), the metrics, and the threads they run on.
public final class ServerHost: Sendable {
    public let node: KeelNode
    public let metrics: EtcdMetrics
    let group: MultiThreadedEventLoopGroup
    let pool: NIOThreadPool
    let listeners: [GRPCServer]
    let sampler: RepeatedTask
    let compactor: AutoCompactor
    let leaseExpiry: LeaseExpiryLoop

    private init(node: KeelNode, metrics: EtcdMetrics, group: MultiThreadedEventLoopGroup, pool: NIOThreadPool,
                 listeners: [GRPCServer], sampler: RepeatedTask, compactor: AutoCompactor, leaseExpiry: LeaseExpiryLoop) {
        self.leaseExpiry = leaseExpiry
        self.compactor = compactor
        self.node = node
        self.metrics = metrics
        self.group = group
        self.pool = pool
        self.listeners = listeners
        self.sampler = sampler
    }

    /// The TCP ports the client listeners bound (port 0 in a URL picks a free one).
    public var clientPorts: [Int] { listeners.map(\.port) }

    /// Starts the member, waits until it can serve (a leader is known and what it committed
    /// at its election is applied), then opens the client listeners, logging etcd's messages.
    /// In a cluster of several members this waits for a quorum of them to be up.
    public static func start(_ configuration: ServerConfiguration, logger: ServerLogger) throws -> ServerHost {
        logger.log(configuration.notices)
        let metrics = EtcdMetrics()
        var observers = NodeObservers()
        observers.stages = metrics.stages
        observers.walSync = { [histogram = metrics.walFsyncDuration] nanoseconds in histogram.observe(Double(nanoseconds) / 1e9) }
        observers.backendCommit = { [histogram = metrics.backendCommitDuration] nanoseconds in
            histogram.observe(Double(nanoseconds) / 1e9)
        }
        // Made first: the peer transport runs on it while the member looks for a leader.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(System.coreCount, 2))
        let node: KeelNode
        do {
            node = try KeelNode.start(NodeOptions(configuration), logger: logger, observers: observers, group: group)
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        logger.info("starting Keel member", .string("name", node.name), .string("local-member-id", hex(node.memberID)),
                    .string("cluster-id", hex(node.clusterID)), .string("data-dir", configuration.dataDirectory),
                    .string("wal-io", configuration.walIO.rawValue))
        node.waitUntilServing()
        node.publish(on: group.next())
        logger.info("enabled capabilities for version", .string("cluster-version", "3.5"))
        metrics.serverID.labels(hex(node.memberID)).set(1)
        metrics.serverVersion.labels(KeelVersion.etcdServer).set(1)
        metrics.setClusterVersion(KeelVersion.etcdCluster, previous: nil)
        metrics.quotaBackendBytes.set(Double(node.options.quotaBackendBytes))
        metrics.dbTotalSizeBytes.bind { Double(node.database.fileBytes) }
        metrics.dbTotalSizeInUseBytes.bind { Double(node.database.stats.inUseBytes) }
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        let routes = node.routes(pool: pool, metrics: metrics)
        let gateway = GatewayResponder(
            routes: routes, metrics: metrics, serverVersion: KeelVersion.etcdServer,
            clusterVersion: { KeelVersion.etcdCluster },
            health: { query, eventLoop in node.health(query, on: eventLoop) },
            peerFaults: configuration.peerFaultInjection ? node.peers : nil)
        var listeners: [GRPCServer] = []
        do {
            for address in configuration.clientListenAddresses {
                guard case .tcp(let host, let port) = address else {
                    throw NodeStartError.configuration("unix socket client URLs are not supported by Keel yet")
                }
                var grpc = GRPCConnectionConfiguration()
                // etcd lets gRPC take --max-request-bytes plus 512 KiB of framing.
                grpc.messageBytesMax = Int(configuration.maxRequestBytes) + 512 * 1024
                listeners.append(try GRPCServer.start(host: host, port: port, group: group, methods: routes.grpcMethods,
                                                      http1: gateway, configuration: grpc).wait())
                logger.info("ready to serve client requests")
                logger.info("serving client traffic insecurely; this is strongly discouraged!",
                            .string("address", "\(host):\(listeners.last!.port)"))
            }
        } catch {
            for listener in listeners { try? listener.close().wait() }
            node.stop()
            try? pool.syncShutdownGracefully()
            try? group.syncShutdownGracefully()
            throw error
        }
        let sampler = group.next().scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(500)) { _ in
            node.sample(into: metrics)
        }
        let compactor = AutoCompactor(node: node, mode: configuration.autoCompaction)
        compactor.start(on: group.next())
        let leaseExpiry = LeaseExpiryLoop(node: node)
        leaseExpiry.start(on: group.next())
        return ServerHost(node: node, metrics: metrics, group: group, pool: pool, listeners: listeners, sampler: sampler,
                          compactor: compactor, leaseExpiry: leaseExpiry)
    }

    /// Calls `body` on an event loop once this member has applied its own removal from the
    /// cluster, ten heartbeat intervals later (as etcd waits before it stops), so the messages
    /// that hand over leadership or acknowledge the change get out first.
    public func whenRemoved(_ body: @escaping @Sendable () -> Void) {
        let delay = TimeAmount.milliseconds(Int64(node.options.heartbeatMilliseconds) * 10)
        let eventLoop = group.next()
        node.whenRemoved { eventLoop.scheduleTask(in: delay) { body() } }
    }

    /// Closes the listeners (calls in flight end as UNAVAILABLE), stops the node (it commits
    /// what it applied) and the threads.
    public func stop() {
        sampler.cancel()
        compactor.stop()
        leaseExpiry.stop()
        for listener in listeners { try? listener.close().wait() }
        node.stop()
        try? pool.syncShutdownGracefully()
        try? group.syncShutdownGracefully()
    }
}

func hex(_ id: UInt64) -> String { String(id, radix: 16) }

import Foundation
import KeelAPI
import KeelTestSupport
import NIOCore
import NIOPosix
import Testing
@testable import KeelServer

/// The auto-compaction targets, against an in-process node.
@Suite struct AutoCompactorTests {
    @Test func revisionAndPeriodicTargets() async throws {
        let directory = TemporaryDirectory("keel-compactor")
        defer { directory.remove() }
        var options = NodeOptions(dataDirectory: directory.path)
        options.walIO = .sync
        let node = try KeelNode.start(options, logger: ServerLogger(minimumLevel: .error, sink: { _ in }))
        defer { node.stop() }
        node.waitUntilServing()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        func put(_ i: Int) async throws {
            var request = Etcdserverpb_PutRequest()
            request.key = Data("k\(i % 3)".utf8)
            request.value = Data("v\(i)".utf8)
            let outcome = try await node.propose(.put(request), on: group.next()).get()
            guard case .put = outcome else { throw CompactorTestError.notApplied("\(outcome)") }
        }
        for i in 0..<10 { try await put(i) }
        #expect(node.keySpace.store.currentRevision == 11)

        let byRevision = AutoCompactor(node: node, mode: .revision(4))
        #expect(byRevision.target(now: .now) == 7)
        #expect(AutoCompactor(node: node, mode: .revision(20)).target(now: .now) == nil)
        #expect(AutoCompactor(node: node, mode: .off).target(now: .now) == nil)

        // Periodic with a one-hour retention: samples every 6 minutes; the revision sampled
        // an hour ago is the target.
        let periodic = AutoCompactor(node: node, mode: .periodic(.seconds(3600)))
        #expect(periodic.interval == .seconds(360))
        let start = ContinuousClock.now
        #expect(periodic.target(now: start) == nil)  // samples revision 11
        for i in 10..<15 { try await put(i) }
        #expect(periodic.target(now: start + .seconds(1800)) == nil)  // samples revision 16
        #expect(periodic.target(now: start + .seconds(3600)) == 11)
        #expect(periodic.target(now: start + .seconds(3700)) == nil, "revision 16 is not an hour old yet")
        #expect(periodic.target(now: start + .seconds(5400)) == 16)
        try await group.shutdownGracefully()
    }
}

enum CompactorTestError: Error { case notApplied(String) }

import Foundation
import KeelAPI
import KeelTestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// LeaseKeepAlive over gRPC, message by message, against a real keel process: what etcdctl's
/// client hides (the TTL 0 answer for a missing lease, the order of answers, the header, the
/// end of the call after the client half-closes).
@Suite struct LeaseKeepAliveGRPCTests {
    @Test func answersInOrderWithTTLZeroForAMissingLease() async throws {
        let keel = try KeelProcess()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try await GRPCClient.connect(host: "127.0.0.1", port: keel.clientPort, group: group).get()

        var grant = Etcdserverpb_LeaseGrantRequest()
        grant.ttl = 10
        let granted: Etcdserverpb_LeaseGrantResponse = try await client.unary("/etcdserverpb.Lease/LeaseGrant", grant)
        #expect(granted.id > 0 && granted.ttl == 10)

        let responses = Mutex<[Etcdserverpb_LeaseKeepAliveResponse]>([])
        let call = client.bidirectionalStreaming(
            "/etcdserverpb.Lease/LeaseKeepAlive", Etcdserverpb_LeaseKeepAliveRequest.self,
            Etcdserverpb_LeaseKeepAliveResponse.self) { response in responses.withLock { $0.append(response) } }
        for id in [granted.id, 12345, granted.id] {
            var request = Etcdserverpb_LeaseKeepAliveRequest()
            request.id = id
            try await call.send(request).get()
        }
        call.finish()
        let status = try await call.status.get()
        #expect(status.code == .ok, "\(status)")

        let answers = responses.withLock { $0 }
        #expect(answers.map(\.id) == [granted.id, 12345, granted.id])
        #expect(answers.map(\.ttl) == [10, 0, 10])
        for answer in answers {
            #expect(answer.header.clusterID != 0 && answer.header.memberID != 0)
            #expect(answer.header.revision >= 1 && answer.header.raftTerm >= 1)
        }
        try await client.close().get()
        try await group.shutdownGracefully()
    }
}

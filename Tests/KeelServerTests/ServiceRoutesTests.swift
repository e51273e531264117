import FoundationEssentials
import KeelAPI
import KeelServer
import NIOCore
import Testing

@Suite("ServiceRoutes over gRPC")
struct ServiceRoutesTests {
    @Test("the same handlers answer over gRPC through the method table, with their statuses")
    func grpcRoundTrip() async throws {
        try await GatewayHarness.with { harness in
            let client = try await harness.grpc()
            var put = Etcdserverpb_PutRequest()
            put.key = Data("foo".utf8)
            put.value = Data("bar".utf8)
            let putResponse: Etcdserverpb_PutResponse = try await client.unary("/etcdserverpb.KV/Put", put)
            #expect(putResponse.header.revision == 2)

            var range = Etcdserverpb_RangeRequest()
            range.key = Data("foo".utf8)
            let rangeResponse: Etcdserverpb_RangeResponse = try await client.unary("/etcdserverpb.KV/Range", range)
            #expect(rangeResponse.kvs.map { Array($0.value) } == [Array("bar".utf8)])

            // What the gateway wrote is what gRPC reads: one store behind both.
            _ = try await harness.post("/v3/kv/put", #"{"key":"Zm9v","value":"YmF6"}"#)
            let again: Etcdserverpb_RangeResponse = try await client.unary("/etcdserverpb.KV/Range", range)
            #expect(again.kvs.first?.version == 2)

            await #expect(throws: GRPCStatus(.invalidArgument, "etcdserver: key is not provided")) {
                let _: Etcdserverpb_DeleteRangeResponse = try await client.unary(
                    "/etcdserverpb.KV/DeleteRange", Etcdserverpb_DeleteRangeRequest())
            }
            try await client.close().get()

            let grpc = harness.metrics.grpc
            let labels = ["unary", "etcdserverpb.KV"]
            #expect(grpc.started.labels(labels + ["Put"]).value == 2)
            #expect(grpc.handled.labels(labels + ["Range", "OK"]).value == 2)
            #expect(grpc.handled.labels(labels + ["DeleteRange", "InvalidArgument"]).value == 1)
            #expect(grpc.messagesSent.labels(labels + ["DeleteRange"]).value == 0)
        }
    }

    @Test("a bidirectional stream passes through to its handler and is counted as started and received")
    func streamingPassThrough() async throws {
        try await GatewayHarness.with { harness in
            let client = try await harness.grpc()
            let call = client.bidirectionalStreaming(
                "/etcdserverpb.Watch/Watch", Etcdserverpb_WatchRequest.self, Etcdserverpb_WatchResponse.self
            ) { _ in }
            try await call.send(Etcdserverpb_WatchRequest()).get()
            try await call.send(Etcdserverpb_WatchRequest()).get()
            call.finish()
            #expect(try await call.status.get() == .ok)  // the fake handler finishes on .end
            try await client.close().get()
            let labels = ["bidi_stream", "etcdserverpb.Watch", "Watch"]
            #expect(harness.metrics.grpc.started.labels(labels).value == 1)
            #expect(harness.metrics.grpc.messagesReceived.labels(labels).value == 2)
            #expect(!harness.metrics.registry.exposition().contains(#"grpc_method="Watch",grpc_code"#))
        }
    }

    @Test("a unary registration serves the method's gateway routes; streaming ones are gRPC only")
    func registrations() {
        var routes = ServiceRoutes(metrics: EtcdMetrics().grpc)
        routes.unary(EtcdMethod.lease[1]) { (_: Etcdserverpb_LeaseRevokeRequest, _, reply: GRPCReply<Etcdserverpb_LeaseRevokeResponse>) in
            reply.succeed(.init())
        }
        routes.bidirectionalStreaming(EtcdMethod.lease[2]) { (_, _: GRPCServerStream<Etcdserverpb_LeaseKeepAliveResponse>) in
            { (_: GRPCInboundEvent<Etcdserverpb_LeaseKeepAliveRequest>) in }
        }
        #expect(routes.gatewayPath(forRoute: "/v3/lease/revoke") == "/etcdserverpb.Lease/LeaseRevoke")
        #expect(routes.gatewayPath(forRoute: "/v3/kv/lease/revoke") == "/etcdserverpb.Lease/LeaseRevoke")
        #expect(routes.gatewayPath(forRoute: "/v3/lease/keepalive") == nil)
        #expect(routes.grpcMethods.paths == ["/etcdserverpb.Lease/LeaseKeepAlive", "/etcdserverpb.Lease/LeaseRevoke"])
    }
}

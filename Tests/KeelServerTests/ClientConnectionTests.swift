import Foundation
import KeelAPI
import KeelTestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A long-lived client connection the way grpc-go keeps one (a PING with every call), and
/// input that is not etcd's API at all.
@Suite struct ClientConnectionTests {
    /// 20,000 puts on one connection, each preceded by a PING as grpc-go's BDP estimator sends
    /// them, 100 in flight: every call answers, the connection is never sent away, and the
    /// store's revision moved by exactly 20,000 (no call was applied twice).
    @Test func twentyThousandPutsWithAPingEachOnOneConnection() async throws {
        let keel = try KeelProcess()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try await GRPCClient.connect(host: "127.0.0.1", port: keel.clientPort, group: group).get()
        let total = 20_000
        let window = 100
        var next = 0
        var failures: [String] = []
        while next < total {
            let calls: [EventLoopFuture<Etcdserverpb_PutResponse>] = (next..<min(next + window, total)).map { i in
                var ping = ByteBuffer()
                ping.writeBytes([0, 0, 8, 6, 0, 0, 0, 0, 0])  // PING, 8 bytes, stream 0
                ping.writeInteger(UInt64(i))
                client.channel.writeAndFlush(ping, promise: nil)
                var put = Etcdserverpb_PutRequest()
                put.key = Data("key-\(i % 1000)".utf8)
                put.value = Data("value-\(i)".utf8)
                return client.unary("/etcdserverpb.KV/Put", put)
            }
            for call in calls {
                do { _ = try await call.get() } catch { failures.append("\(error)") }
            }
            next += window
            if !failures.isEmpty { break }
        }
        #expect(failures.isEmpty, "\(failures.count) calls failed, first: \(failures.first ?? "")")
        #expect(client.channel.isActive, "the connection was closed")
        var range = Etcdserverpb_RangeRequest()
        range.key = Data("key-".utf8)
        let response: Etcdserverpb_RangeResponse = try await client.unary("/etcdserverpb.KV/Range", range)
        #expect(response.header.revision == 1 + Int64(total))
        try? await client.close().get()
        try await group.shutdownGracefully()
    }

    /// Garbage on the client port, and a PING flood far above any client's rate: the server
    /// closes those connections and keeps serving everyone else; nothing changes.
    @Test func garbageAndPingFloodCloseOnlyTheirConnections() async throws {
        let keel = try KeelProcess()
        #expect(keel.etcdctl(["put", "k", "v"]).output == "OK\n")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // Bytes that are neither HTTP/2's preface nor an HTTP/1.1 request line.
        let raw = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: keel.clientPort).get()
        var generator = SeededGenerator(seed: 7)
        var garbage = ByteBuffer()
        for _ in 0..<65_536 { garbage.writeInteger(UInt8.random(in: 0...255, using: &generator)) }
        try? await raw.writeAndFlush(garbage).get()
        #expect(try await Self.closedByServer(raw), "garbage kept its connection open")

        // The flood is written as raw frames (the HTTP/2 preface, an empty SETTINGS, then PING
        // after PING) so that the server, not the client, sets the pace.
        let flooder = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: keel.clientPort).get()
        var flood = ByteBuffer()
        flood.writeString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        flood.writeBytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  // SETTINGS, no parameters
        for index in 0..<100_000 {
            flood.writeBytes([0, 0, 8, 6, 0, 0, 0, 0, 0])  // PING, 8 bytes, stream 0
            flood.writeInteger(UInt64(index))
        }
        try? await flooder.writeAndFlush(flood).get()
        #expect(try await Self.closedByServer(flooder), "a flood of 100,000 PINGs kept its connection")
        try await group.shutdownGracefully()

        #expect(keel.etcdctl(["get", "k", "--print-value-only"]).output == "v\n")
        let status = try JSONSerialization.jsonObject(with: Data(keel.etcdctl(["get", "k", "-w", "json"]).output.utf8)) as? [String: Any]
        #expect((status?["header"] as? [String: Any])?["revision"] as? Int == 2, "only the one put changed the store")
    }

    /// Streams a grpc-go client cancels: 500 opened and reset at once keep the connection
    /// (swift-nio-http2's default of 200 resets per 30 s closes it). The limit is a rate (1,000
    /// a second), so whether a bigger burst trips it depends on how fast a loaded machine
    /// reads it; that side is left to NIO's own tests.
    @Test func cancelledStreamsKeepTheConnection() async throws {
        let keel = try KeelProcess()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        for (count, closes) in [(500, false)] {
            let raw = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: keel.clientPort).get()
            var frames = ByteBuffer()
            frames.writeString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            frames.writeBytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  // SETTINGS, no parameters
            // A Range call's request headers (HPACK: POST, http, :path, :authority,
            // content-type application/grpc, te trailers), left open, then RST_STREAM(CANCEL).
            var block: [UInt8] = [0x83, 0x86, 0x04, 22] + Array("/etcdserverpb.KV/Range".utf8)
            block += [0x01, 1, UInt8(ascii: "a"), 0x0F, 0x10, 16] + Array("application/grpc".utf8)
            block += [0x00, 2] + Array("te".utf8) + [8] + Array("trailers".utf8)
            for index in 0..<count {
                let stream = UInt32(2 * index + 1)
                frames.writeBytes([0, 0, UInt8(block.count), 1, 0x4])
                frames.writeInteger(stream)
                frames.writeBytes(block)
                frames.writeBytes([0, 0, 4, 3, 0])
                frames.writeInteger(stream)
                frames.writeInteger(UInt32(8))
            }
            try? await raw.writeAndFlush(frames).get()
            let closed = try await Self.closedByServer(raw, within: closes ? 30 : 3)
            #expect(closed == closes, "\(count) cancelled streams: closed \(closed)")
        }
        #expect(keel.etcdctl(["put", "k", "v"]).output == "OK\n", "the server stopped serving")
        try await group.shutdownGracefully()
    }

    /// Whether the server closes `channel` within 30 s (after that the test closes it).
    static func closedByServer(_ channel: any Channel, within seconds: Int64 = 30) async throws -> Bool {
        final class Flag: Sendable { let raised = Atomic<Bool>(false) }
        let timedOut = Flag()
        let timer = channel.eventLoop.scheduleTask(in: .seconds(seconds)) {
            timedOut.raised.store(true, ordering: .relaxed)
            channel.close(promise: nil)
        }
        try? await channel.closeFuture.get()
        timer.cancel()
        return !timedOut.raised.load(ordering: .relaxed)
    }
}

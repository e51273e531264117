#if canImport(Glibc)
import Glibc
#endif
import KeelRaft
import KeelTestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import KeelServer

/// Requests between members (stream 3): answers matched by id in any order, errors, timeouts,
/// a restarted peer, a caller outside the cluster, and refusals.
@Suite struct PeerRequestTests {
    /// Answers every request with its method number, the caller's id and the payload reversed.
    static let echo: PeerRequestHandler = { call, payload in
        call.eventLoop.makeSucceededFuture([UInt8(call.method.rawValue), UInt8(call.from.rawValue)] + payload.reversed())
    }

    @Test func aRequestIsAnsweredBothWays() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (one, two) = try PeerTestMember.startPair(group: group)
        defer { one.transport.stop(); two.transport.stop() }
        one.transport.setRequestHandler(Self.echo)
        two.transport.setRequestHandler(Self.echo)
        let answer = try one.transport.request(to: NodeID(2), method: .leaseRenew, payload: [1, 2, 3], timeout: .seconds(5)).wait()
        #expect(answer == [2, 1, 3, 2, 1])
        let back = try two.transport.request(to: NodeID(1), method: .leaseTimeToLive, payload: [], timeout: .seconds(5)).wait()
        #expect(back == [3, 2])
        // The second request to the same peer reuses the connection the first one made.
        _ = try one.transport.request(to: NodeID(2), method: .members, payload: [9], timeout: .seconds(5)).wait()
        #expect(two.record.logs.withLock { $0.filter { $0.message == "accepted peer connection" && $0.fields.contains { $0.key == "stream" && "\($0.value)".contains("requests") } }.count } == 1)
        // The raft messages connection is unaffected.
        one.transport.send([peerMessage(from: 1, to: 2, index: 1)])
        #expect(eventually { two.received.count == 1 })
    }

    /// A held request does not hold up the ones after it: answers come back in the order the
    /// handler finishes them, each to its own caller.
    @Test func manyConcurrentRequestsAreAnsweredOutOfOrder() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (one, two) = try PeerTestMember.startPair(group: group)
        defer { one.transport.stop(); two.transport.stop() }
        let seed = KeelSeedForAPI.value()
        print("PeerRequestTests.manyConcurrentRequestsAreAnsweredOutOfOrder seed \(seed) (replay with KEEL_SEED=\(seed))")
        let held = Mutex<EventLoopPromise<[UInt8]>?>(nil)
        two.transport.setRequestHandler { call, payload in
            if payload == [0xFF] {
                let promise = call.eventLoop.makePromise(of: [UInt8].self)
                held.withLock { $0 = promise }
                return promise.futureResult
            }
            // Delays from the payload: 0 to 19 ms, so the answers cross each other.
            let delay = Int64(payload[0] % 20)
            return call.eventLoop.scheduleTask(in: .milliseconds(delay)) { payload + payload }.futureResult
        }
        let first = one.transport.request(to: NodeID(2), method: .members, payload: [0xFF], timeout: .seconds(10))
        let firstAnswered = Mutex(false)
        first.whenComplete { _ in firstAnswered.withLock { $0 = true } }
        #expect(eventually { held.withLock { $0 != nil } })
        var generator = KeelRaft.SeededGenerator(seed: seed)
        let payloads = (0..<300).map { index in [UInt8(generator.draw(below: 200)), UInt8(index & 0xFF), UInt8(index >> 8)] }
        let completed = Mutex<[Int]>([])
        let futures = payloads.enumerated().map { index, payload in
            let future = one.transport.request(to: NodeID(2), method: .leaseRenew, payload: payload, timeout: .seconds(10))
            future.whenSuccess { _ in completed.withLock { $0.append(index) } }
            return future
        }
        for (future, payload) in zip(futures, payloads) {
            #expect(try future.wait() == payload + payload)
        }
        // Every later request was answered while the first was still held.
        #expect(!firstAnswered.withLock { $0 })
        held.withLock { $0!.succeed([7]) }
        #expect(try first.wait() == [7])
        // The random delays reordered the answers (if this fails, replay with KEEL_SEED).
        #expect(completed.withLock { $0 } != Array(0..<300), "seed \(seed)")
    }

    @Test func errorsAreAnsweredAsErrors() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (one, two) = try PeerTestMember.startPair(group: group) { $0.frameBytesMax = 1 << 20 }
        defer { one.transport.stop(); two.transport.stop() }
        // No handler installed yet.
        #expect(throws: PeerRequestError.failed(.failed, "member 2 serves no peer requests yet")) {
            try one.transport.request(to: NodeID(2), method: .leaseRenew, payload: [], timeout: .seconds(5)).wait()
        }
        two.transport.setRequestHandler { call, payload in
            if payload == [1] { return call.eventLoop.makeFailedFuture(EtcdError.leaseNotFound) }
            // An answer larger than a frame.
            return call.eventLoop.makeSucceededFuture([UInt8](repeating: 1, count: 2 << 20))
        }
        #expect(throws: PeerRequestError.failed(.failed, "etcdserver: requested lease not found")) {
            try one.transport.request(to: NodeID(2), method: .leaseRenew, payload: [1], timeout: .seconds(5)).wait()
        }
        let tooLargeAnswer = #expect(throws: PeerRequestError.self) {
            try one.transport.request(to: NodeID(2), method: .leaseRenew, payload: [2], timeout: .seconds(5)).wait()
        }
        #expect("\(tooLargeAnswer!)".contains("the answer does not fit in a peer frame"))
        // A request larger than a frame fails at once, without touching the connection.
        let tooLarge = #expect(throws: PeerRequestError.self) {
            try one.transport.request(to: NodeID(2), method: .leaseRenew, payload: [UInt8](repeating: 0, count: 2 << 20), timeout: .seconds(5)).wait()
        }
        guard case .tooLarge = tooLarge else { Issue.record("\(String(describing: tooLarge))"); return }
        #expect(throws: PeerRequestError.notAPeer(NodeID(3))) {
            try one.transport.request(to: NodeID(3), method: .leaseRenew, payload: [], timeout: .seconds(5)).wait()
        }
        // The connection still serves.
        #expect(throws: PeerRequestError.failed(.failed, "etcdserver: requested lease not found")) {
            try one.transport.request(to: NodeID(2), method: .leaseRenew, payload: [1], timeout: .seconds(5)).wait()
        }
    }

    /// A method this member does not know (a newer member's) is answered `unknownMethod`, by id.
    @Test func anUnknownMethodIsAnsweredAsUnknown() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let port = freeLoopbackPort()
        let two = try PeerTestMember(id: 2, port: port, peers: [1: freeLoopbackPort()], group: group).start()
        defer { two.transport.stop() }
        two.transport.setRequestHandler(Self.echo)
        var bytes = ByteBuffer()
        PeerHello(clusterID: 0xC1, from: NodeID(1), to: NodeID(2), stream: .requests).write(into: &bytes)
        try PeerRequestFrame(id: 41, method: 999, payload: [1]).write(into: &bytes, frameBytesMax: 4096)
        try PeerRequestFrame(id: 42, method: PeerMethod.members.rawValue, payload: [5]).write(into: &bytes, frameBytesMax: 4096)
        let socket = try RawPeerSocket(port: port)
        try socket.send(Array(bytes.readableBytesView))
        let frames = socket.readFrames(3)
        #expect(frames.map(\.kind) == [.helloReply, .response, .response])
        let responses = try frames.dropFirst().map { try PeerResponseFrame.read($0.body) }.sorted { $0.id < $1.id }
        #expect(responses.first == PeerResponseFrame(id: 41, status: .unknownMethod, error: "unknown peer method 999", payload: []))
        #expect(responses.last == PeerResponseFrame(id: 42, status: .ok, error: "", payload: [1, 1, 5]))
    }
}

extension PeerRequestTests {
    @Test func aRequestTimesOutAndTheConnectionGoesOn() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (one, two) = try PeerTestMember.startPair(group: group)
        defer { one.transport.stop(); two.transport.stop() }
        let held = Mutex<EventLoopPromise<[UInt8]>?>(nil)
        two.transport.setRequestHandler { call, payload in
            guard payload == [0] else { return call.eventLoop.makeSucceededFuture(payload) }
            let promise = call.eventLoop.makePromise(of: [UInt8].self)
            held.withLock { $0 = promise }
            return promise.futureResult
        }
        #expect(throws: PeerRequestError.timedOut(milliseconds: 100)) {
            try one.transport.request(to: NodeID(2), method: .members, payload: [0], timeout: .milliseconds(100)).wait()
        }
        // The late answer is dropped; the next request on the same connection gets its own.
        held.withLock { $0!.succeed([0xAA]) }
        #expect(try one.transport.request(to: NodeID(2), method: .members, payload: [3], timeout: .seconds(5)).wait() == [3])
    }

    /// A peer that goes away fails every waiting request; once it is back, requests reach it on
    /// a new connection.
    @Test func aRestartedPeerFailsWaitingRequestsThenServesAgain() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (one, two) = try PeerTestMember.startPair(group: group)
        defer { one.transport.stop() }
        two.transport.setRequestHandler { call, _ in call.eventLoop.makePromise(of: [UInt8].self).futureResult }  // never answers
        let waiting = (0..<5).map { _ in one.transport.request(to: NodeID(2), method: .members, payload: [], timeout: .seconds(30)) }
        #expect(eventually { two.record.logs.withLock { $0.contains { $0.message == "accepted peer connection" && "\($0.fields)".contains("requests") } } })
        two.transport.stop()
        for future in waiting {
            let error = #expect(throws: PeerRequestError.self) { try future.wait() }
            guard case .connectionLost = error else { Issue.record("\(String(describing: error))"); continue }
        }
        // While it is down, a request fails rather than waiting for its timeout.
        let down = #expect(throws: PeerRequestError.self) {
            try one.transport.request(to: NodeID(2), method: .members, payload: [], timeout: .seconds(30)).wait()
        }
        guard case .connectionLost = down else { Issue.record("\(String(describing: down))"); return }
        let again = try PeerTestMember(id: 2, port: two.port, peers: [1: one.port], group: group).start()
        defer { again.transport.stop() }
        again.transport.setRequestHandler(Self.echo)
        #expect(try one.transport.request(to: NodeID(2), method: .members, payload: [4, 5], timeout: .seconds(5)).wait() == [1, 1, 5, 4])
    }
}

extension PeerRequestTests {
    /// A member joining an existing cluster asks for the member list with cluster id 0 and
    /// member id 0; that is all it may ask.
    @Test func aCallerOutsideTheClusterMayOnlyAskForMembers() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (one, two) = try PeerTestMember.startPair(group: group)
        defer { one.transport.stop(); two.transport.stop() }
        let calls = Mutex<[String]>([])
        two.transport.setRequestHandler { call, _ in
            calls.withLock { $0.append("\(call.method) from \(call.from.rawValue)") }
            // A stand-in for the member list the node answers with.
            return call.eventLoop.makeSucceededFuture(Array("members of c1".utf8))
        }
        let address = PeerAddress(host: "127.0.0.1", port: two.port)
        let answer = try PeerTransport.fetch(address: address, method: .members, group: group).wait()
        #expect(answer == PeerFetchAnswer(clusterID: 0xC1, member: NodeID(2), payload: Array("members of c1".utf8)))
        for method in [PeerMethod.leaseRenew, .leaseTimeToLive] {
            #expect(throws: PeerRequestError.failed(.refused, "peer method \(method) is not open to callers outside the cluster")) {
                try PeerTransport.fetch(address: address, method: method, group: group).wait()
            }
        }
        #expect(calls.withLock { $0 } == ["members from 0"])
        // Only the whole stranger hello opens the door: a member id without the cluster id is
        // a caller from another cluster.
        var bytes = ByteBuffer()
        PeerHello(clusterID: 0, from: NodeID(1), to: NodeID(2), stream: .requests).write(into: &bytes)
        var reply = ByteBuffer(bytes: try RawPeerSocket.exchange(port: two.port, sending: Array(bytes.readableBytesView)))
        let frame = try #require(try PeerFrameCodec.read(from: &reply, frameBytesMax: 4096))
        #expect(try PeerHelloReply.read(frame.body).status == .clusterMismatch)
        // ... and a stranger hello on the messages stream is refused the same way.
        bytes.clear()
        PeerHello(clusterID: 0, from: .none, to: NodeID(2), stream: .messages).write(into: &bytes)
        reply = ByteBuffer(bytes: try RawPeerSocket.exchange(port: two.port, sending: Array(bytes.readableBytesView)))
        let messagesFrame = try #require(try PeerFrameCodec.read(from: &reply, frameBytesMax: 4096))
        #expect(try PeerHelloReply.read(messagesFrame.body).status == .clusterMismatch)
        // Nobody listening: the fetch fails, it does not hang.
        let nobody = #expect(throws: PeerRequestError.self) {
            try PeerTransport.fetch(address: PeerAddress(host: "127.0.0.1", port: freeLoopbackPort()), method: .members, group: group).wait()
        }
        guard case .connectionLost = nobody else { Issue.record("\(String(describing: nobody))"); return }
    }

    @Test func membersOfAnotherClusterAndRemovedMembersAreRefused() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (port1, port2, port3) = (freeLoopbackPort(), freeLoopbackPort(), freeLoopbackPort())
        let one = try PeerTestMember(id: 1, port: port1, peers: [2: port2, 3: port3], group: group).start()
        let two = try PeerTestMember(id: 2, port: port2, peers: [1: port1, 3: port3], group: group).start()
        let stranger = try PeerTestMember(id: 3, clusterID: 0xBBB, port: port3, peers: [2: port2], group: group).start()
        defer { one.transport.stop(); two.transport.stop(); stranger.transport.stop() }
        let served = Mutex(0)
        two.transport.setRequestHandler { call, payload in
            served.withLock { $0 += 1 }
            return call.eventLoop.makeSucceededFuture(payload)
        }
        #expect(throws: PeerRequestError.handshakeRefused("request cluster ID mismatch")) {
            try stranger.transport.request(to: NodeID(2), method: .members, payload: [], timeout: .seconds(5)).wait()
        }
        #expect(try one.transport.request(to: NodeID(2), method: .members, payload: [1], timeout: .seconds(5)).wait() == [1])
        // Removed after its hello: its open connection's requests are refused.
        two.transport.setPeer(NodeID(1), address: nil)
        #expect(throws: PeerRequestError.failed(.refused, "member 1 is not in the cluster")) {
            try one.transport.request(to: NodeID(2), method: .members, payload: [2], timeout: .seconds(5)).wait()
        }
        #expect(served.withLock { $0 } == 1)
        // Removed on the caller's side: no request leaves.
        one.transport.setPeer(NodeID(2), address: nil)
        #expect(throws: PeerRequestError.notAPeer(NodeID(2))) {
            try one.transport.request(to: NodeID(2), method: .members, payload: [], timeout: .seconds(5)).wait()
        }
    }

    @Test func aPartitionedPeerGetsNoRequests() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (one, two) = try PeerTestMember.startPair(group: group)
        defer { one.transport.stop(); two.transport.stop() }
        one.transport.setRequestHandler(Self.echo)
        two.transport.setRequestHandler(Self.echo)
        one.transport.partition(from: [NodeID(2)])
        #expect(throws: PeerRequestError.partitioned(NodeID(2))) {
            try one.transport.request(to: NodeID(2), method: .members, payload: [], timeout: .seconds(5)).wait()
        }
        // The other side drops what comes from the partitioned member: the caller times out.
        #expect(throws: PeerRequestError.timedOut(milliseconds: 200)) {
            try two.transport.request(to: NodeID(1), method: .members, payload: [], timeout: .milliseconds(200)).wait()
        }
        one.transport.heal()
        #expect(try two.transport.request(to: NodeID(1), method: .members, payload: [8], timeout: .seconds(5)).wait() == [1, 2, 8])
    }
}

extension RawPeerSocket {
    /// Reads until `count` whole frames have arrived (or a read times out, or the listener closes).
    func readFrames(_ count: Int) -> [PeerFrame] {
        var buffer = ByteBuffer()
        var frames: [PeerFrame] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while frames.count < count {
            while let frame = try? PeerFrameCodec.read(from: &buffer, frameBytesMax: 1 << 20) { frames.append(frame) }
            guard frames.count < count else { break }
            let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard received > 0 else { break }
            buffer.writeBytes(chunk[..<received])
        }
        return frames
    }
}

extension PeerRequestTests {
    /// The request and response bodies round-trip; every truncation and every damaged field is a
    /// typed error, never a trap.
    @Test func requestAndResponseBodiesRoundTripAndRefuseDamage() throws {
        let request = PeerRequestFrame(id: 0x0102_0304_0506_0708, method: 3, payload: [9, 8, 7])
        let responses = [PeerResponseFrame(id: 5, status: .ok, error: "", payload: [1, 2]),
                         PeerResponseFrame(id: 6, status: .failed, error: "etcdserver: requested lease not found", payload: [])]
        var buffer = ByteBuffer()
        try request.write(into: &buffer, frameBytesMax: 1024)
        for response in responses { try response.write(into: &buffer, frameBytesMax: 1024) }
        let requestFrame = try #require(try PeerFrameCodec.read(from: &buffer, frameBytesMax: 1024))
        #expect(requestFrame.kind == .request && requestFrame.body.readableBytes == 16 + 3)
        #expect(Array(requestFrame.body.readableBytesView.prefix(10)) == [8, 7, 6, 5, 4, 3, 2, 1, 3, 0])
        #expect(try PeerRequestFrame.read(requestFrame.body) == request)
        for response in responses {
            let frame = try #require(try PeerFrameCodec.read(from: &buffer, frameBytesMax: 1024))
            #expect(frame.kind == .response && frame.body.readableBytes == 16 + response.error.utf8.count + response.payload.count)
            #expect(try PeerResponseFrame.read(frame.body) == response)
            let body = Array(frame.body.readableBytesView)
            for length in 0..<16 where length < body.count {
                #expect(throws: PeerFrameError.self) { try PeerResponseFrame.read(ByteBuffer(bytes: body.prefix(length))) }
            }
        }
        let body = Array(requestFrame.body.readableBytesView)
        for length in 0..<16 {
            #expect(throws: PeerFrameError.self) { try PeerRequestFrame.read(ByteBuffer(bytes: body.prefix(length))) }
        }
        var padded = body
        padded[12] = 1
        #expect(throws: PeerFrameError.self) { try PeerRequestFrame.read(ByteBuffer(bytes: padded)) }
        // An unknown status, an error text longer than its body, and a failed answer with a payload.
        let failed: [UInt8] = [6, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0x41]
        #expect(try PeerResponseFrame.read(ByteBuffer(bytes: failed)).error == "A")
        for (offset, byte) in [(8, UInt8(9)), (12, 2), (9, 1)] {
            var damaged = failed
            damaged[offset] = byte
            #expect(throws: PeerFrameError.self) { try PeerResponseFrame.read(ByteBuffer(bytes: damaged)) }
        }
        #expect(throws: PeerFrameError.self) { try PeerResponseFrame.read(ByteBuffer(bytes: failed + [0])) }
        // A frame over the limit is refused before anything is written.
        var small = ByteBuffer()
        #expect(throws: PeerFrameError.frameTooLarge(bytes: 12 + 16 + 100, limit: 64)) {
            try PeerRequestFrame(id: 1, method: 1, payload: Array(repeating: 0, count: 100)).write(into: &small, frameBytesMax: 64)
        }
        #expect(small.readableBytes == 0)
    }
}

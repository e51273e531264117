#if canImport(Glibc)
import Glibc
#endif
import KeelIO
import KeelRaft
import KeelTestSupport
import NIOCore
import NIOPosix
import Testing
@testable import KeelServer

/// The handshake: callers from another cluster, unknown members, callers expecting someone
/// else, other protocol versions and garbage are refused, logged and disconnected.
@Suite struct PeerHandshakeTests {
    @Test func aPeerFromAnotherClusterIsRefused() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (port1, port2) = (freeLoopbackPort(), freeLoopbackPort())
        let one = try PeerTestMember(id: 1, clusterID: 0xAAA, port: port1, peers: [2: port2], group: group).start()
        let two = try PeerTestMember(id: 2, clusterID: 0xBBB, port: port2, peers: [1: port1], group: group).start()
        defer { one.transport.stop(); two.transport.stop() }
        one.transport.send([peerMessage(from: 1, to: 2, index: 1)])
        #expect(eventually { two.logLine("request cluster ID mismatch") != nil && one.logLine("remote peer refused the connection") != nil })
        let refusal = try #require(two.logLine("request cluster ID mismatch"))
        #expect(refusal["remote-peer-id"] == "1" && refusal["remote-peer-cluster-id"] == "aaa")
        #expect(refusal["local-member-id"] == "2" && refusal["local-member-cluster-id"] == "bbb")
        #expect(refusal["remote-address"]?.contains("127.0.0.1") == true)
        #expect(two.record.logs.withLock { $0.first { $0.message == "request cluster ID mismatch" }?.level } == .warn)
        let callerSide = try #require(one.logLine("remote peer refused the connection"))
        #expect(callerSide["reason"] == "request cluster ID mismatch" && callerSide["remote-peer-cluster-id"] == "bbb")
        #expect(!one.transport.isConnected(to: NodeID(2)) && two.received.isEmpty)
        #expect(two.transport.counters.handshakesRefused.load(ordering: .relaxed) >= 1)
    }

    @Test func anUnknownMemberIsRefused() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (port1, port2, port3) = (freeLoopbackPort(), freeLoopbackPort(), freeLoopbackPort())
        // Member 2 knows only member 3; member 1 calls it anyway.
        let one = try PeerTestMember(id: 1, port: port1, peers: [2: port2], group: group).start()
        let two = try PeerTestMember(id: 2, port: port2, peers: [3: port3], group: group).start()
        defer { one.transport.stop(); two.transport.stop() }
        one.transport.send([peerMessage(from: 1, to: 2, index: 1)])
        let message = "rejected peer connection from a member not in the cluster"
        #expect(eventually { two.logLine(message) != nil })
        #expect(two.logLine(message)?["remote-peer-id"] == "1")
        #expect(eventually { one.logLine("remote peer refused the connection")?["reason"] == message })
        #expect(two.received.isEmpty)
        // Once the member is added, the next attempt (after backoff) gets through.
        two.transport.setPeer(NodeID(1), address: PeerAddress(host: "127.0.0.1", port: port1))
        #expect(eventually { one.transport.isConnected(to: NodeID(2)) })
        one.transport.send([peerMessage(from: 1, to: 2, index: 2)])
        #expect(eventually { two.received.map(\.index.rawValue) == [2] })
        // Removed again: its open connection is closed at its next message, which is dropped.
        two.transport.setPeer(NodeID(1), address: nil)
        one.transport.send([peerMessage(from: 1, to: 2, index: 3)])
        #expect(eventually { two.logLine("closed peer connection of a removed member")?["remote-peer-id"] == "1" })
        #expect(eventually { !one.transport.isConnected(to: NodeID(2)) })
        #expect(two.received.map(\.index.rawValue) == [2])
    }

    @Test func aCallerExpectingAnotherMemberIsRefused() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (port1, port2) = (freeLoopbackPort(), freeLoopbackPort())
        // Member 1 believes member 3 listens where member 2 does.
        let one = try PeerTestMember(id: 1, port: port1, peers: [3: port2], group: group).start()
        let two = try PeerTestMember(id: 2, port: port2, peers: [1: port1, 3: freeLoopbackPort()], group: group).start()
        defer { one.transport.stop(); two.transport.stop() }
        let message = "rejected peer connection meant for another member"
        #expect(eventually { two.logLine(message) != nil })
        #expect(two.logLine(message)?["remote-expected-member-id"] == "3")
    }

    @Test func anotherProtocolVersionAndGarbageAreRefused() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let port = freeLoopbackPort()
        let two = try PeerTestMember(id: 2, port: port, peers: [1: freeLoopbackPort()], group: group).start()
        defer { two.transport.stop() }
        // A hello of version 2: the answer is a version-1 reply saying why, then the close.
        var buffer = ByteBuffer()
        PeerHello(clusterID: 0xC1, from: NodeID(1), to: NodeID(2), stream: .messages).write(into: &buffer)
        var hello = Array(buffer.readableBytesView)
        hello[4] = 2
        let answer = try RawPeerSocket.exchange(port: port, sending: hello)
        var reply = ByteBuffer(bytes: answer)
        let frame = try #require(try PeerFrameCodec.read(from: &reply, frameBytesMax: 4096))
        #expect(try PeerHelloReply.read(frame.body).status == .unsupportedVersion)
        #expect(eventually { two.logLine("rejected peer connection with an unsupported protocol version")?["remote-protocol-version"] != nil })
        // Garbage: no answer, the connection is closed and the reason logged.
        #expect(try RawPeerSocket.exchange(port: port, sending: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)).isEmpty)
        #expect(eventually { two.logLine("closed peer connection after a protocol error") != nil })
        #expect(two.received.isEmpty)
    }
}

extension PeerHandshakeTests {
    /// A member that reconnects replaces its old connection, which is closed (it may be half-dead).
    @Test func aNewConnectionFromAMemberReplacesItsOldOne() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let (port1, port2) = (freeLoopbackPort(), freeLoopbackPort())
        let two = try PeerTestMember(id: 2, port: port2, peers: [1: port1], group: group).start()
        defer { two.transport.stop() }
        // An "old" connection of member 1: a valid hello, then silence.
        var buffer = ByteBuffer()
        PeerHello(clusterID: 0xC1, from: NodeID(1), to: NodeID(2), stream: .messages).write(into: &buffer)
        let old = try RawPeerSocket(port: port2)
        try old.send(Array(buffer.readableBytesView))
        #expect(eventually { two.logLine("accepted peer connection") != nil })
        let one = try PeerTestMember(id: 1, port: port1, peers: [2: port2], group: group).start()
        defer { one.transport.stop() }
        #expect(eventually { one.transport.isConnected(to: NodeID(2)) })
        #expect(eventually { two.logLine("closed an older peer connection replaced by a new one")?["remote-peer-id"] == "1" })
        let (reply, closed) = old.readUntilClosed()
        #expect(closed, "the old connection was closed by the listener")
        var replyBuffer = ByteBuffer(bytes: reply)
        let frame = try #require(try PeerFrameCodec.read(from: &replyBuffer, frameBytesMax: 4096))
        #expect(try PeerHelloReply.read(frame.body).status == .accepted)
        one.transport.send([peerMessage(from: 1, to: 2, index: 1)])
        #expect(eventually { two.received.count == 1 })
    }
}

/// A blocking TCP client for feeding a listener raw bytes (each read times out after 5 s).
final class RawPeerSocket {
    struct Failure: Error { let what: String }
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(what: "socket") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw Failure(what: "connect: errno \(errno)")
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        guard bytes.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else { throw Failure(what: "send") }
    }

    /// What arrives until the listener closes (`closed`: an orderly close or a reset) or
    /// 30 s pass without one (not `closed`). The listener's close may run well after the
    /// line that logs it on a loaded machine (seen in CI past the 5 s of one read), so reads
    /// that time out are retried until then.
    func readUntilClosed() -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = MonotonicClock.nanoseconds() + 30_000_000_000
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return (received, true) }
            if count < 0 {
                let error = errno
                if error == ECONNRESET { return (received, true) }
                if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR) && MonotonicClock.nanoseconds() < deadline { continue }
                return (received, false)
            }
            received += chunk[..<count]
        }
    }

    /// Connects, sends `bytes`, and reads until the listener closes.
    static func exchange(port: Int, sending bytes: [UInt8]) throws -> [UInt8] {
        let socket = try RawPeerSocket(port: port)
        try socket.send(bytes)
        return socket.readUntilClosed().bytes
    }
}

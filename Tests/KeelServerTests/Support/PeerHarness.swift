#if canImport(Glibc)
import Glibc
#endif
import KeelIO
import KeelRaft
import KeelTestSupport
import NIOCore
import NIOPosix
import Synchronization
@testable import KeelServer

/// One member's transport in a loopback test, recording what it received, reported and logged.
final class PeerTestMember: Sendable {
    let id: NodeID
    let port: Int
    let transport: PeerTransport
    let record = PeerRecord()

    init(id: UInt64, clusterID: UInt64 = 0xC1, port: Int, peers: [UInt64: Int], group: MultiThreadedEventLoopGroup,
         tune: (inout PeerTransportConfiguration) -> Void = { _ in }) {
        self.id = NodeID(id)
        self.port = port
        var configuration = PeerTransportConfiguration(
            clusterID: clusterID, localMember: NodeID(id), listen: PeerAddress(host: "127.0.0.1", port: port),
            peers: Dictionary(uniqueKeysWithValues: peers.map { (NodeID($0.key), PeerAddress(host: "127.0.0.1", port: $0.value)) }))
        configuration.seed = id
        // Short delays keep restart tests quick; the doubling and jitter are the same.
        configuration.backoffInitialMilliseconds = 10
        configuration.backoffMaxMilliseconds = 200
        tune(&configuration)
        let record = self.record
        transport = PeerTransport(
            configuration: configuration, group: group,
            deliver: { messages in record.inbox.withLock { $0 += messages } },
            report: { report in record.reports.withLock { $0.append(report) } },
            log: { level, message, fields in record.logs.withLock { $0.append((level, message, fields)) } })
    }

    func start() throws -> PeerTestMember {
        try transport.start()
        return self
    }

    /// Members 1 and 2 of one cluster on fresh loopback ports, each knowing the other, started.
    /// A port found free can be taken before the listener binds it (seen in CI); the pair then
    /// starts again on other ports, up to three times.
    static func startPair(group: MultiThreadedEventLoopGroup,
                          tune: (inout PeerTransportConfiguration) -> Void = { _ in }) throws -> (one: PeerTestMember, two: PeerTestMember) {
        for attempt in 1...3 {
            let (port1, port2) = (freeLoopbackPort(), freeLoopbackPort())
            let one = PeerTestMember(id: 1, port: port1, peers: [2: port2], group: group, tune: tune)
            let two = PeerTestMember(id: 2, port: port2, peers: [1: port1], group: group, tune: tune)
            do {
                _ = try one.start()
                _ = try two.start()
                return (one, two)
            } catch let error as NIOCore.IOError where error.errnoCode == EADDRINUSE && attempt < 3 {
                one.transport.stop()
                two.transport.stop()
            }
        }
        preconditionFailure("unreachable: the last attempt rethrows")
    }

    var received: [KeelRaft.Message] { record.inbox.withLock { $0 } }
    func received(from peer: UInt64) -> [KeelRaft.Message] { record.inbox.withLock { $0.filter { $0.from == NodeID(peer) } } }

    /// The first log line with `message`, as "key=value" strings.
    func logLine(_ message: String) -> [String: String]? {
        record.logs.withLock { lines in
            lines.first { $0.message == message }.map { line in
                Dictionary(line.fields.map { field -> (String, String) in
                    switch field.value {
                    case .string(let text): (field.key, text)
                    default: (field.key, "\(field.value)")
                    }
                }, uniquingKeysWith: { first, _ in first })
            }
        }
    }
}

/// What one member's transport handed back.
final class PeerRecord: Sendable {
    let inbox = Mutex<[KeelRaft.Message]>([])
    let reports = Mutex<[PeerReport]>([])
    let logs = Mutex<[(level: LogLevel, message: String, fields: [LogField])]>([])
}

/// Polls `condition` every 2 ms until it holds or `seconds` pass; returns whether it held.
func eventually(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
    while MonotonicClock.nanoseconds() < deadline {
        if condition() { return true }
        usleep(2000)
    }
    return condition()
}

/// A raft message of the common kinds with `index` as a sequence number.
func peerMessage(_ type: MessageType = .append, from: UInt64, to: UInt64, index: UInt64, data: [UInt8] = []) -> KeelRaft.Message {
    KeelRaft.Message(type: type, to: NodeID(to), from: NodeID(from), term: KeelRaft.Term(1), index: KeelRaft.LogIndex(index),
                     entries: type == .append ? [Entry(term: KeelRaft.Term(1), index: KeelRaft.LogIndex(index + 1), data: data)] : [])
}

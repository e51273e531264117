#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelAPI
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Many watchers on a real keel process while a writer runs: 10,000 watchers over 100 gRPC
/// streams on overlapping key ranges, 50,000 puts from 64 concurrent callers. Every watcher must
/// get exactly the events of its range, in revision order; one more stream that never reads
/// (its connection stops reading) must neither stop the others nor make the server's memory
/// grow with the writes.
@Suite struct WatchStressTests {
    static let streams = 100
    static let watchersPerStream = 100
    static let puts = Int(ProcessInfo.processInfo.environment["KEEL_WATCH_STRESS_PUTS"] ?? "") ?? 50_000
    static let prefixes = 1000

    @Test func manyWatchersOneStalledStream() async throws {
        let keel = try KeelProcess()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var configuration = GRPCConnectionConfiguration()
        configuration.messageBytesMax = 16 << 20
        var clients: [GRPCClient] = []
        for _ in 0..<4 {
            clients.append(try await GRPCClient.connect(host: "127.0.0.1", port: keel.clientPort, group: group,
                                                        configuration: configuration).get())
        }
        let rssBefore = try residentBytes(keel)

        // The stalled stream: 100 watchers on every key written, then its connection stops reading.
        let stalledClient = try await GRPCClient.connect(host: "127.0.0.1", port: keel.clientPort, group: group).get()
        let stalled = WatchClientStream(stalledClient)
        for _ in 0..<100 { stalled.create(key: "s/", rangeEnd: "s0", startRevision: 2) }
        try stalled.waitFor { $0.count >= 100 }
        try await stalledClient.channel.setOption(ChannelOptions.autoRead, value: false).get()

        // The watched streams, every watcher from revision 2 (the first put) on.
        var watched: [WatchClientStream] = []
        var ranges: [[WatchKeyRangeModel]] = []
        for i in 0..<Self.streams {
            let stream = WatchClientStream(clients[i % clients.count])
            var streamRanges: [WatchKeyRangeModel] = []
            for j in 0..<Self.watchersPerStream {
                let range = WatchKeyRangeModel(watcher: i * Self.watchersPerStream + j)
                streamRanges.append(range)
                stream.create(key: range.key, rangeEnd: range.end, startRevision: 2)
            }
            watched.append(stream)
            ranges.append(streamRanges)
        }

        // The writer; each put's revision tells which key it wrote.
        let record = StressRecord()
        let started = ContinuousClock.now
        let writers = clients
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for lane in 0..<64 {
                tasks.addTask {
                    var index = lane
                    while index < Self.puts {
                        let key = WatchKeyRangeModel.key(forPut: index)
                        var request = Etcdserverpb_PutRequest()
                        request.key = Data(key.utf8)
                        request.value = Data("v\(index)".utf8)
                        let response = try await writers[lane % writers.count].unary(
                            "/etcdserverpb.KV/Put", request, as: Etcdserverpb_PutResponse.self)
                        record.keysByRevision.withLock { $0[response.header.revision] = key }
                        if lane == 0 && index % 640 == 0 { record.peakRSS.max(try residentBytes(keel)) }
                        index += 64
                    }
                }
            }
            try await tasks.waitForAll()
        }
        let written = record.keysByRevision.withLock { $0 }
        #expect(written.count == Self.puts && written.keys.min() == 2 && written.keys.max() == Int64(Self.puts) + 1)

        // What each watcher must have seen.
        let revisions = written.keys.sorted()
        var expectedTotal = 0
        var expected: [[[Int64]]] = []
        for streamRanges in ranges {
            expected.append(streamRanges.map { range in
                let mine = revisions.filter { range.contains(written[$0]!) }
                expectedTotal += mine.count
                return mine
            })
        }
        while ContinuousClock.now - started < .seconds(150) {
            if watched.reduce(0, { $0 + $1.eventCount }) >= expectedTotal { break }
            usleep(100_000)
        }
        record.peakRSS.max(try residentBytes(keel))
        let elapsed = ContinuousClock.now - started
        var wrong = 0
        for (i, stream) in watched.enumerated() {
            let byWatcher = stream.eventsByWatcher
            for j in 0..<Self.watchersPerStream {
                let got = byWatcher[Int64(j)] ?? []
                if got.map(\.revision) != expected[i][j] || got.contains(where: { written[$0.revision] != $0.key }) {
                    wrong += 1
                }
            }
        }
        print("watch stress: \(Self.puts) puts, \(expectedTotal) events to \(Self.streams * Self.watchersPerStream) watchers"
              + " in \(elapsed); keel RSS \(rssBefore >> 20) MiB before, \(record.peakRSS.load(ordering: .relaxed) >> 20) MiB peak;"
              + " stalled stream got \(stalled.responses.count) responses")
        #expect(wrong == 0, "\(wrong) watchers saw other events than their own")
        // The stalled stream's watchers would hold every put (100 × 50,000 events, several
        // hundred MB) if its queue grew; bounded, it holds at most the hub's 8,192 events and
        // the transport's windows (a few MB). The rest of the growth is the key space itself
        // (50,000 keys in the revision index and the mapped B+tree) and the other streams'
        // in-flight responses; 300 MiB leaves room for those and is far below the unbounded case.
        #expect(record.peakRSS.load(ordering: .relaxed) - rssBefore < 300 << 20)
        stalled.call.cancel()
        for client in clients { _ = try? await client.close().get() }
        _ = try? await stalledClient.close().get()
        try? await group.shutdownGracefully()
    }

    private func residentBytes(_ keel: KeelProcess) throws -> Int {
        let pid = try #require(keel.process?.pid)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kilobytes = try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kilobytes * 1024
    }
}

/// What the writer lanes record.
final class StressRecord: Sendable {
    let keysByRevision = Mutex<[Int64: String]>([:])
    let peakRSS = Atomic<Int>(0)
}

/// The stress test's keys and watcher ranges: keys "s/NNN/d" over 1000 prefixes; a watcher
/// follows one prefix, one key, or three neighbouring prefixes, so ranges overlap and each
/// put is seen by about 14 watchers.
struct WatchKeyRangeModel {
    let key: String
    let end: String?

    init(watcher n: Int) {
        let x = (n * 7919) % WatchStressTests.prefixes
        switch n % 3 {
        case 0:
            key = String(format: "s/%03d/", x)
            end = String(format: "s/%03d0", x)  // "/" + 1 = "0": the prefix's end
        case 1:
            key = String(format: "s/%03d/%d", x, n % 5)
            end = nil
        default:
            let low = min(x, WatchStressTests.prefixes - 3)
            key = String(format: "s/%03d/", low)
            end = String(format: "s/%03d/", low + 3)
        }
    }

    static func key(forPut index: Int) -> String {
        String(format: "s/%03d/%d", (index * 31) % WatchStressTests.prefixes, index % 5)
    }

    func contains(_ candidate: String) -> Bool {
        guard let end else { return candidate == key }
        return candidate >= key && candidate < end
    }
}

extension WatchClientStream {
    /// Events received so far.
    var eventCount: Int { responses.reduce(0) { $0 + $1.events.count } }

    /// Each watcher's events as (revision, key), in the order received.
    var eventsByWatcher: [Int64: [(revision: Int64, key: String)]] {
        var result: [Int64: [(revision: Int64, key: String)]] = [:]
        for response in responses {
            for event in response.events {
                result[response.watchID, default: []].append((event.kv.modRevision, String(decoding: event.kv.key, as: UTF8.self)))
            }
        }
        return result
    }
}

extension Atomic where Value == Int {
    fileprivate func max(_ value: Int) {
        var current = load(ordering: .relaxed)
        while value > current {
            let (exchanged, original) = compareExchange(expected: current, desired: value, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

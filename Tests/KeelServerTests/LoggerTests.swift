import Foundation
import Synchronization
import Testing
@testable import KeelServer

/// ServerLogger's lines against etcd 3.5's zap JSON format.
@Suite struct LoggerTests {
    /// Collects lines instead of writing them to stderr.
    final class Capture: Sendable {
        let lines = Mutex<[[UInt8]]>([])
        var sink: ServerLogger.Sink { { line in self.lines.withLock { $0.append(line) } } }
        var texts: [String] { lines.withLock { $0.map { String(decoding: $0, as: UTF8.self) } } }
        func objects() throws -> [[String: Any]] {
            let copy = lines.withLock { $0 }
            return try copy.map { line in
                try #require(JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            }
        }
    }

    static let fixedTime = LogTimestamp(secondsSinceEpoch: 1_700_000_000, nanoseconds: 123_456_789, utcOffsetSeconds: 0)

    func logger(_ level: LogLevel = .info, _ capture: Capture) -> ServerLogger {
        ServerLogger(minimumLevel: level, sink: capture.sink, clock: { Self.fixedTime })
    }

    @Test func lineHasEtcdsKeysInEtcdsOrder() throws {
        let capture = Capture()
        logger(.info, capture).info("starting", .string("name", "default"), .int("port", 2379), .bool("v2", false),
                                    .strings("urls", ["http://a:1", "http://b:2"]), .duration("tick", .milliseconds(100)),
                                    .int("big", UInt64.max))
        let text = try #require(capture.texts.first)
        #expect(text.hasPrefix(#"{"level":"info","ts":"2023-11-14T22:13:20.123456Z","caller":"KeelServerTests/LoggerTests.swift:"#))
        #expect(text.hasSuffix(#","msg":"starting","name":"default","port":2379,"v2":false,"urls":["http://a:1","http://b:2"],"tick":"100ms","big":18446744073709551615}"# + "\n"))
        #expect(text.filter { $0 == "\n" }.count == 1)
        let object = try #require(try capture.objects().first)
        #expect(object["level"] as? String == "info")
        #expect(object["msg"] as? String == "starting")
        #expect(object["urls"] as? [String] == ["http://a:1", "http://b:2"])
        #expect((object["caller"] as? String)?.hasPrefix("KeelServerTests/LoggerTests.swift:") == true)
    }

    @Test func escaping() throws {
        let capture = Capture()
        let tricky = "quote\" backslash\\ newline\n tab\t cr\r bell\u{07} nul\u{0} del\u{7F} é 日本 🙂 </script>"
        logger(.info, capture).warn(tricky, .string("k\"ey", tricky))
        let text = try #require(capture.texts.first)
        #expect(text.contains(#""msg":"quote\" backslash\\ newline\n tab\t cr\r bell\u0007 nul\u0000 del"# + "\u{7F}" + #" é 日本 🙂 </script>""#))
        let object = try #require(try capture.objects().first)
        #expect(object["msg"] as? String == tricky)
        #expect(object["k\"ey"] as? String == tricky)
        #expect(object["level"] as? String == "warn")
    }

    @Test func levelFiltering() throws {
        let capture = Capture()
        let warnLogger = logger(.warn, capture)
        var built = false
        warnLogger.debug({ built = true; return "d" }())
        warnLogger.info("i")
        warnLogger.warn("w")
        warnLogger.error("e")
        #expect(!built, "a filtered message must not be built")
        #expect(try capture.objects().map { $0["level"] as? String } == ["warn", "error"])
        #expect(!warnLogger.isEnabled(.info))
        #expect(warnLogger.isEnabled(.fatal))

        let all = Capture()
        logger(.debug, all).debug("d")
        #expect(all.texts.count == 1)
    }

    @Test func timestampFormat() {
        #expect(Self.fixedTime.etcdText == "2023-11-14T22:13:20.123456Z")
        #expect(LogTimestamp(secondsSinceEpoch: 0, nanoseconds: 999_999_999, utcOffsetSeconds: 0).etcdText == "1970-01-01T00:00:00.999999Z")
        #expect(LogTimestamp(secondsSinceEpoch: 951_782_400, nanoseconds: 1000, utcOffsetSeconds: 3600).etcdText == "2000-02-29T01:00:00.000001+0100")
        #expect(LogTimestamp(secondsSinceEpoch: 1_700_000_000, nanoseconds: 0, utcOffsetSeconds: -19800).etcdText == "2023-11-14T16:43:20.000000-0530")
        #expect(LogTimestamp(secondsSinceEpoch: -1, nanoseconds: 0, utcOffsetSeconds: 0).etcdText == "1969-12-31T23:59:59.000000Z")
        // The system clock gives a well-formed text too.
        #expect(LogTimestamp.now().etcdText.count >= "2023-11-14T16:43:20.000000Z".count)
    }

    @Test func durationsAsGoPrintsThem() {
        let cases: [(Int64, String)] = [
            (0, "0s"), (1, "1ns"), (1_500, "1.5\u{00B5}s"), (100_000_000, "100ms"), (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"), (-2_000_000, "-2ms"), (3_723_000_000_001, "1h2m3.000000001s"),
        ]
        for (nanoseconds, text) in cases { #expect(GoDuration.format(nanoseconds: nanoseconds) == text) }
        #expect(GoDuration.parse("1h30m") == .success(5_400_000_000_000))
        #expect(GoDuration.parse(".5s") == .success(500_000_000))
        #expect(GoDuration.parse("1") == .failure(.missingUnit("1")))
        #expect(GoDuration.parse("3000000h") == .failure(.invalid("3000000h")))
        #expect(GoDuration.parse("-1.5m") == .success(-90_000_000_000))
    }

    @Test func notices() throws {
        let capture = Capture()
        let config = try run([], environment: ["ETCD_NAME": "n", "ETCD_X": "y"])
        logger(.info, capture).log(config.notices)
        let objects = try capture.objects()
        #expect(objects.map { $0["msg"] as? String } == ["recognized and used environment variable", "unrecognized environment variable", "'data-dir' was empty; using default"])
        #expect(objects[1]["environment-variable"] as? String == "ETCD_X=y")
        #expect(objects[1]["level"] as? String == "warn")
    }

    @Test func manyThreadsNeverInterleave() async throws {
        let capture = Capture()
        let shared = logger(.info, capture)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<200 { shared.info("event", .int("task", task), .int("index", index), .string("pad", String(repeating: "x", count: 300))) }
                }
            }
        }
        let objects = try capture.objects()
        #expect(objects.count == 1600)
        #expect(Set(objects.map { "\($0["task"]!)-\($0["index"]!)" }).count == 1600)
    }
}

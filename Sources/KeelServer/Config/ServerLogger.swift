#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The node's structured logger: one JSON object per event, one line, in etcd 3.5's zap format
/// (see `LogLineEncoder`), so tools that read etcd's logs read Keel's.
///
/// - Thread safety: any thread may log. Each line is built privately and handed to the sink
///   whole, under a lock, so lines never interleave; the default sink writes it to stderr
///   with one write(2) (repeated only if the kernel accepts part of it).
/// - Cost when filtered out: one integer comparison; the message is an autoclosure and is not
///   built. (The variadic fields array is still made by the caller: guard costly fields with
///   `isEnabled`.)
/// - `fatal` logs and then ends the process with status 1, as zap's Fatal does.
///
/// Not reproduced from etcd's zap setup: log sampling (zap drops repeats of one message beyond
/// 100 a second) and the "stacktrace" key on error events.
public final class ServerLogger: Sendable {
    /// Receives each finished line (ending in "\n").
    public typealias Sink = @Sendable ([UInt8]) -> Void

    public let minimumLevel: LogLevel
    private let sink: Sink
    private let clock: @Sendable () -> LogTimestamp
    private let writeLock = Mutex<Void>(())

    /// - Parameters:
    ///   - minimumLevel: events below it are dropped (`--log-level`).
    ///   - sink: where lines go; stderr by default.
    ///   - clock: the "ts" source; the system clock in local time by default.
    public init(minimumLevel: LogLevel, sink: @escaping Sink = ServerLogger.standardError,
                clock: @escaping @Sendable () -> LogTimestamp = LogTimestamp.now) {
        self.minimumLevel = minimumLevel
        self.sink = sink
        self.clock = clock
    }

    public func isEnabled(_ level: LogLevel) -> Bool { level >= minimumLevel }

    /// Logs one event. `caller` defaults to the calling file and line ("Module/File.swift:12",
    /// the counterpart of zap's "package/file.go:12"); pass a component name instead if wanted.
    public func log(_ level: LogLevel, _ message: @autoclosure () -> String, _ fields: [LogField],
                    caller: @autoclosure () -> String) {
        guard isEnabled(level) else { return }
        var encoder = LogLineEncoder(level: level, timestamp: clock(), caller: caller(), message: message())
        for field in fields { encoder.append(field) }
        encoder.finish()
        let line = encoder.bytes
        writeLock.withLock { _ in sink(line) }
    }

    public func debug(_ message: @autoclosure () -> String, _ fields: LogField..., file: StaticString = #fileID, line: UInt = #line) {
        log(.debug, message(), fields, caller: "\(file):\(line)")
    }

    public func info(_ message: @autoclosure () -> String, _ fields: LogField..., file: StaticString = #fileID, line: UInt = #line) {
        log(.info, message(), fields, caller: "\(file):\(line)")
    }

    public func warn(_ message: @autoclosure () -> String, _ fields: LogField..., file: StaticString = #fileID, line: UInt = #line) {
        log(.warn, message(), fields, caller: "\(file):\(line)")
    }

    public func error(_ message: @autoclosure () -> String, _ fields: LogField..., file: StaticString = #fileID, line: UInt = #line) {
        log(.error, message(), fields, caller: "\(file):\(line)")
    }

    /// Logs at level fatal, whatever `minimumLevel` is below it, then exits with status 1.
    public func fatal(_ message: @autoclosure () -> String, _ fields: LogField..., file: StaticString = #fileID, line: UInt = #line) -> Never {
        log(.fatal, message(), fields, caller: "\(file):\(line)")
        exit(1)
    }

    /// Logs the notices configuration parsing collected, each at its own level.
    public func log(_ notices: [ConfigurationNotice], file: StaticString = #fileID, line: UInt = #line) {
        for notice in notices { log(notice.level, notice.message, notice.fields, caller: "\(file):\(line)") }
    }

    /// Writes a line to file descriptor 2, retrying EINTR and short writes. A log line that
    /// cannot be written is dropped: there is nowhere left to report it.
    public static let standardError: Sink = { line in
        line.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 { offset += written } else if written < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CJemalloc
import KeelServer
import Synchronization

// `keel`: one Keel member, configured by etcd's flags and ETCD_* variables.

// SIGINT and SIGTERM stop the member cleanly. They are blocked before any thread starts (every
// thread inherits the mask) and taken by `sigwait` on this thread once the member is serving.
var stopSignals = sigset_t()
sigemptyset(&stopSignals)
sigaddset(&stopSignals, SIGINT)
sigaddset(&stopSignals, SIGTERM)
pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

let outcome: ServerConfiguration.ParseOutcome
do throws(ConfigurationError) {
    outcome = try ServerConfiguration.parse(arguments: Array(CommandLine.arguments.dropFirst()), environment: environmentVariables())
} catch {
    // As etcd: the problem on stderr, exit 2 for a flag syntax error, 1 for a bad value.
    let text = Array("\(error)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(error.exitStatus)
}

switch outcome {
case .version:
    print("keel Version: \(KeelVersion.keel)\netcd API Version: \(KeelVersion.etcdServer)")
    exit(0)
case .help(let usage):
    print(usage)
    exit(0)
case .run(let configuration):
    let logger = ServerLogger(minimumLevel: configuration.logLevel)
    logger.info("memory allocator", .string("jemalloc", jemallocVersion() ?? "not linked"))
    let host: ServerHost
    do {
        host = try ServerHost.start(configuration, logger: logger)
    } catch {
        logger.fatal("failed to start the member", .error(error))
    }
    // A member removed from the cluster stops as if told to, and exits 0 as etcd does.
    let removed = Atomic<Bool>(false)
    host.whenRemoved {
        removed.store(true, ordering: .relaxed)
        kill(getpid(), SIGTERM)
    }
    var received: Int32 = 0
    sigwait(&stopSignals, &received)
    if removed.load(ordering: .relaxed) {
        logger.info("stopping the member removed from the cluster", .string("name", host.node.name))
    } else {
        logger.info("received signal; shutting down", .string("signal", received == SIGINT ? "interrupt" : "terminated"))
    }
    host.stop()
    logger.info("stopped the member", .string("name", host.node.name))
    exit(0)
}

func environmentVariables() -> [String: String] {
    var result: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
        let text = String(cString: entry)
        if let equals = text.firstIndex(of: "=") {
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        pointer += 1
    }
    return result
}

/// jemalloc's version when it is the allocator (Keel links it in place of glibc's malloc).
func jemallocVersion() -> String? {
    var buffer = [CChar](repeating: 0, count: 128)
    guard keel_jemalloc_version(&buffer, buffer.count) == 0 else { return nil }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

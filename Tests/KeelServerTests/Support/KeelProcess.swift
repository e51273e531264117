#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeelTestSupport

/// A real `keel` process on free loopback ports, with its data in a temporary directory, for
/// tests that drive it with the real etcdctl and curl.
final class KeelProcess: @unchecked Sendable {
    static let etcdctlPath = "/usr/bin/etcdctl"
    static let curlPath = "/usr/bin/curl"

    let directory: TemporaryDirectory
    private(set) var clientPort: Int
    private(set) var peerPort: Int
    let extraArguments: [String]
    private(set) var process: BackgroundProcess?

    var endpoint: String { "127.0.0.1:\(clientPort)" }
    var dataDirectory: String { directory.path + "/data" }

    /// Starts a member and waits until it logs that it serves clients (at most 60 s).
    ///
    /// A free port found by binding port 0 can be taken before keel binds it (the kernel hands
    /// the same ephemeral range to the outgoing connections of etcdctl, curl and other tests);
    /// a start that fails on an address in use gets new ports, up to three times.
    init(_ extraArguments: [String] = []) throws {
        directory = TemporaryDirectory("keel-server")
        clientPort = freeLoopbackPort()
        peerPort = freeLoopbackPort()
        self.extraArguments = extraArguments
        try retryingTakenPorts(start) {
            clientPort = freeLoopbackPort()
            peerPort = freeLoopbackPort()
        }
    }

    /// The built `keel` next to the test bundle (swift build puts every product there), or the
    /// one `KEEL_BINARY` names (a release build, for the full-size stress runs).
    static var binaryPath: String {
        if let chosen = ProcessInfo.processInfo.environment["KEEL_BINARY"], !chosen.isEmpty { return chosen }
        return builtBinary("keel")
    }

    /// The product `name` built next to the test bundle.
    static func builtBinary(_ name: String) -> String {
        var path = CommandLine.arguments[0]
        while !path.isEmpty {
            path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            let candidate = path + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
            if path.hasSuffix(".build") { break }
        }
        preconditionFailure("no \(name) binary found near \(CommandLine.arguments[0]); build with swift build first")
    }

    var arguments: [String] {
        let peer = "http://127.0.0.1:\(peerPort)"
        return ["--name", "test", "--data-dir", dataDirectory,
                "--listen-client-urls", "http://\(endpoint)", "--advertise-client-urls", "http://\(endpoint)",
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "test=\(peer)"] + extraArguments
    }

    /// Starts (or restarts) the process on the same data and ports.
    func start() throws {
        let log = directory.path + "/keel.log"
        let started = BackgroundProcess(Self.binaryPath, arguments, environment: ["PATH=/usr/bin:/bin"], logPath: log)
        process = started
        try started.waitUntilServing(readyLinesBefore: started.readyLines)
    }

    /// SIGKILL: a crash, nothing flushed.
    func kill() { process?.stop(signal: SIGKILL) }

    /// SIGTERM; returns the exit status.
    @discardableResult
    func stop() -> Int32 { process?.stop(signal: SIGTERM) ?? 0 }

    var log: String { process?.log ?? "" }

    /// Runs etcdctl (API v3) against this member.
    func etcdctl(_ arguments: [String], input: String? = nil) -> Subprocess.Outcome {
        Subprocess.run(Self.etcdctlPath, ["--endpoints=\(endpoint)", "--command-timeout=10s"] + arguments,
                       environment: ["ETCDCTL_API=3", "PATH=/usr/bin:/bin"], input: input)
    }

    /// Starts etcdctl (API v3) against this member in the background, its output going to
    /// `log` in the member's directory.
    func backgroundEtcdctl(_ arguments: [String], log: String) -> BackgroundProcess {
        BackgroundProcess(Self.etcdctlPath, ["--endpoints=\(endpoint)"] + arguments,
                          environment: ["ETCDCTL_API=3", "PATH=/usr/bin:/bin"], logPath: directory.path + "/" + log)
    }

    /// Runs curl against the client port; `path` starts with "/".
    func curl(_ path: String, body: String? = nil) -> Subprocess.Outcome {
        var arguments = ["-s", "-S", "--max-time", "10", "http://\(endpoint)\(path)"]
        if let body { arguments += ["-X", "POST", "-d", body] }
        return Subprocess.run(Self.curlPath, arguments, environment: ["PATH=/usr/bin:/bin"])
    }

    deinit {
        process?.stop(signal: SIGKILL)
        directory.remove()
    }
}

/// Runs `start` up to three times: when keel exits on an address in use (a port found free
/// was taken meanwhile), `newPorts` picks others and `start` runs again.
func retryingTakenPorts(_ start: () throws -> Void, newPorts: () -> Void) throws {
    for attempt in 1...3 {
        do {
            return try start()
        } catch KeelProcessError.exited(let log) where log.contains("Address already in use") && attempt < 3 {
            newPorts()
        }
    }
}

extension BackgroundProcess {
    /// How many times keel's log says it serves clients (a restart on the same log adds one).
    var readyLines: Int { log.components(separatedBy: "ready to serve client requests").count - 1 }

    /// Waits (at most 60 s) until the log says so more than `readyLinesBefore` times; throws if
    /// the process exits first or never does.
    func waitUntilServing(readyLinesBefore: Int) throws {
        for _ in 0..<6000 {
            if readyLines > readyLinesBefore { return }
            if hasExited { throw KeelProcessError.exited(log) }
            usleep(10_000)
        }
        throw KeelProcessError.notReady(log)
    }
}

enum KeelProcessError: Error, CustomStringConvertible {
    case exited(String)
    case notReady(String)

    var description: String {
        switch self {
        case .exited(let log): "keel exited before serving:\n\(log)"
        case .notReady(let log): "keel did not become ready:\n\(log)"
        }
    }
}

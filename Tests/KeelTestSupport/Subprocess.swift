#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Runs programs for tests with posix_spawn: to completion with their output captured, or in
/// the background (a server) with their output going to a file.
public enum Subprocess {
    public struct Outcome: Sendable {
        public var exitStatus: Int32
        public var output: String
    }

    /// Runs `path` to completion, capturing stdout and stderr together. Blocks the calling
    /// thread; the environment is replaced by `environment`; `input`, if given, is written to
    /// the program's stdin (then closed).
    public static func run(_ path: String, _ arguments: [String], environment: [String], input: String? = nil) -> Outcome {
        var pipeEnds: [Int32] = [0, 0]
        precondition(pipe(&pipeEnds) == 0, "pipe failed: errno \(errno)")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        var inputEnds: [Int32] = [-1, -1]
        if input != nil {
            precondition(pipe(&inputEnds) == 0, "pipe failed: errno \(errno)")
            posix_spawn_file_actions_adddup2(&actions, inputEnds[0], 0)
            posix_spawn_file_actions_addclose(&actions, inputEnds[1])
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        defer { posix_spawn_file_actions_destroy(&actions) }

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = withCleanSignals { attributes in posix_spawn(&pid, path, &actions, &attributes, argv, envp) }
        close(pipeEnds[1])
        precondition(spawned == 0, "posix_spawn \(path) failed: \(spawned)")
        if let input {
            close(inputEnds[0])
            let bytes = Array(input.utf8)
            var written = 0
            while written < bytes.count {
                let count = bytes[written...].withUnsafeBytes { write(inputEnds[1], $0.baseAddress, $0.count) }
                if count <= 0 { break }
                written += count
            }
            close(inputEnds[1])
        }

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipeEnds[0], &buffer, buffer.count)
            if count > 0 {
                output += buffer[0..<count]
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(pipeEnds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED/WEXITSTATUS are macros: exited normally when the low 7 bits are 0.
        let exitStatus = status & 0x7F == 0 ? (status >> 8) & 0xFF : -1
        return Outcome(exitStatus: exitStatus, output: String(decoding: output, as: UTF8.self))
    }
}

/// Spawn attributes that give the child an empty signal mask and default SIGINT/SIGTERM
/// handling: a test runner may block or ignore signals, and its children would inherit that
/// (a server or etcdctl under test would then ignore the SIGTERM or SIGINT a test sends).
func withCleanSignals<T>(_ body: (inout posix_spawnattr_t) -> T) -> T {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGINT)
    sigaddset(&defaults, SIGTERM)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    return body(&attributes)
}

/// A program running in the background (a server under test), its stdout and stderr appended
/// to `logPath`.
public final class BackgroundProcess: @unchecked Sendable {
    public let pid: pid_t
    public let logPath: String
    private var reaped = false

    public init(_ path: String, _ arguments: [String], environment: [String], logPath: String) {
        self.logPath = logPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let spawned = withCleanSignals { attributes in posix_spawn(&child, path, &actions, &attributes, argv, envp) }
        precondition(spawned == 0, "posix_spawn \(path) failed: \(spawned)")
        pid = child
    }

    /// Sends `signal` and waits for the process to end; returns its exit status (-signal when
    /// a signal ended it).
    @discardableResult
    public func stop(signal: Int32 = SIGTERM) -> Int32 {
        guard !reaped else { return 0 }
        kill(pid, signal)
        return waitForExit()
    }

    /// Waits for the process to end by itself; returns its exit status (-signal when a signal
    /// ended it).
    public func waitForExit() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        reaped = true
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : -(status & 0x7F)
    }

    /// Waits at most `seconds` for the process to end by itself; kills it after that. Returns
    /// its exit status, or nil when it had to be killed.
    public func waitForExit(within seconds: Double) -> Int32? {
        var status: Int32 = 0
        for _ in 0..<Int(seconds * 100) {
            if reaped { return 0 }
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                return status & 0x7F == 0 ? (status >> 8) & 0xFF : -(status & 0x7F)
            }
            usleep(10_000)
        }
        stop(signal: SIGKILL)
        return nil
    }

    /// Whether the process has ended (reaping it if so).
    public var hasExited: Bool {
        if reaped { return true }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { reaped = true }
        return reaped
    }

    /// The log so far.
    public var log: String {
        guard let file = fopen(logPath, "r") else { return "" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    deinit { if !reaped { stop(signal: SIGKILL) } }
}

/// A TCP port on 127.0.0.1 that was free a moment ago and that no other caller in this process
/// has been given.
///
/// It is drawn below the kernel's ephemeral range (`ip_local_port_range`), so an outgoing
/// connection of some other test can never take it as its local port between this check and
/// the listener's bind, nor while a restarted listener is down (both were seen failing CI when
/// ports came from binding port 0, which hands out ephemeral ports).
public func freeLoopbackPort() -> Int {
    let ephemeralLow = ephemeralPortRange().lowerBound
    if ephemeralLow > lowestTestPort + 1000 {
        for _ in 0..<2000 {
            let port = handedOutPorts.withLock { ports -> Int? in
                let port = Int.random(in: lowestTestPort..<ephemeralLow)
                return ports.insert(port).inserted ? port : nil
            }
            if let port, bindsOnLoopback(port: port) { return port }
        }
    }
    // The ephemeral range starts too low to leave room below it (or everything below was
    // taken): let the kernel choose.
    let port = boundLoopbackPort(0)
    handedOutPorts.withLock { _ = $0.insert(port) }
    return port
}

private let lowestTestPort = 20000
private let handedOutPorts = Mutex<Set<Int>>([])

/// The kernel's range for local ports of outgoing connections; Linux's default when unreadable.
private func ephemeralPortRange() -> ClosedRange<Int> {
    let linuxDefault = 32768...60999
    guard let file = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r") else { return linuxDefault }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 64)
    guard fgets(&line, Int32(line.count), file) != nil else { return linuxDefault }
    let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
    guard fields.count == 2, fields[0] > 0, fields[1] >= fields[0] else { return linuxDefault }
    return fields[0]...fields[1]
}

private func bindsOnLoopback(port: Int) -> Bool { boundLoopbackPort(port) == port }

/// Binds a TCP socket to 127.0.0.1:`port` (0: any), closes it and returns the port it had, or
/// -1 when the bind failed.
private func boundLoopbackPort(_ port: Int) -> Int {
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(socketFD >= 0)
    defer { close(socketFD) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            bind(socketFD, raw, length) == 0 && getsockname(socketFD, raw, &length) == 0
        }
    }
    precondition(bound || port != 0, "bind failed: errno \(errno)")
    return bound ? Int(UInt16(bigEndian: address.sin_port)) : -1
}

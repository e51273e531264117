#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion with posix_spawn, capturing stdout and stderr together.
/// Blocks the calling thread (tests only); the environment is replaced by `environment`.
enum Subprocess {
    struct Outcome {
        var exitStatus: Int32
        var output: String
    }

    static func run(_ path: String, _ arguments: [String], environment: [String]) -> Outcome {
        var pipeEnds: [Int32] = [0, 0]
        precondition(pipe(&pipeEnds) == 0, "pipe failed: errno \(errno)")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        defer { posix_spawn_file_actions_destroy(&actions) }

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        close(pipeEnds[1])
        precondition(spawned == 0, "posix_spawn \(path) failed: \(spawned)")

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

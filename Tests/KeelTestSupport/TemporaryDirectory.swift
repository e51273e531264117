#if canImport(Glibc)
import Glibc
#endif
import KeelIO

/// A fresh directory under /tmp for one test, removed (with everything below it) by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "keel-test") {
        var template = Array("/tmp/\(label).XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: \(Errno.current)")
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    public func child(_ name: String) -> String { path + "/" + name }

    /// Removes the directory tree (files and subdirectories).
    public func remove() { Self.removeTree(path) }

    public static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? Syscalls.listDirectory(path)) ?? [] { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            Glibc.unlink(path)
        }
    }
}

/// Reads and writes whole files for tests that damage what the engines wrote.
public enum TestFiles {
    public static func read(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0, "open \(path): \(Errno.current)")
        defer { close(fd) }
        let size = Int(lseek(fd, 0, SEEK_END))
        var bytes = [UInt8](repeating: 0, count: size)
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
        precondition(count == size)
        return bytes
    }

    /// Replaces the file's contents with `bytes` (the file ends up exactly that long).
    public static func write(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "open \(path): \(Errno.current)")
        defer { close(fd) }
        let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        precondition(count == bytes.count)
    }
}

/// A small tmpfs mounted for a test that needs a full disk or a read-only directory. Needs
/// CAP_SYS_ADMIN (root in this project's CI); `available` says whether this process has it.
public struct TestMount: Sendable {
    public let directory: TemporaryDirectory
    public var path: String { directory.path }

    public static let available: Bool = {
        guard let probe = TestMount(options: "size=64k") else { return false }
        probe.unmount()
        return true
    }()

    /// Mounts a tmpfs with `options` ("size=256k", "ro,size=64k") on a fresh directory.
    public init?(options: String, readOnly: Bool = false) {
        let directory = TemporaryDirectory("keel-mount")
        let flags: UInt = readOnly ? UInt(MS_RDONLY) : 0
        guard mount("tmpfs", directory.path, "tmpfs", flags, options) == 0 else {
            directory.remove()
            return nil
        }
        self.directory = directory
    }

    public func unmount() {
        umount2(path, Int32(MNT_DETACH))
        directory.remove()
    }
}

/// A small deterministic generator (splitmix64) for tests that print their seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

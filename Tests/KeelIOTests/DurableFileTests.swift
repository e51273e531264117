#if canImport(Glibc)
import Glibc
#endif
import KeelIO
import KeelTestSupport
import Testing

@Suite struct DurableFileTests {
    static var backends: [IOBackendChoice] { Ring.isUsable ? [.sync, .uring] : [.sync] }

    @Test(arguments: DurableFileTests.backends)
    func writesLandAtTheirOffsets(choice: IOBackendChoice) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("file")
        var file = try DurableFile(path: path, create: true, backend: choice)
        #expect(file.backend.rawValue == choice.rawValue)
        try file.preallocate(bytes: 1 << 16)
        #expect(try file.size() == 1 << 16)
        let first = [UInt8](repeating: 0xAB, count: 5000)
        let second = (0..<3000).map { UInt8(truncatingIfNeeded: $0) }
        try first.withUnsafeBytes { try file.writeAndSync($0, at: 0) }
        try second.withUnsafeBytes { try file.writeAndSync($0, at: 5000) }
        try [UInt8]().withUnsafeBytes { try file.writeAndSync($0, at: 8000) }
        let back = TestFiles.read(path)
        #expect(back.count == 1 << 16, "preallocated size unchanged by writes inside it")
        #expect(Array(back[0..<5000]) == first)
        #expect(Array(back[5000..<8000]) == second)
        #expect(back[8000...].allSatisfy { $0 == 0 })
    }

    @Test func autoPicksUringWhereUsable() throws {
        let resolved = try IOBackend.resolve(.auto, path: "x")
        #expect(resolved == (Ring.isUsable ? .uring : .sync))
        if !Ring.isUsable {
            #expect(throws: IOError.self) { try IOBackend.resolve(.uring, path: "x") }
        }
    }

    @Test func ringReapsIntoCallerSlots() throws {
        try #require(Ring.isUsable, "io_uring is not usable here: \(String(describing: Ring.probe))")
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.child("ring")
        let fd = try Syscalls.open(path, flags: O_RDWR | O_CREAT)
        defer { Syscalls.close(fd) }
        var ring = try Ring(entries: 8, path: path)
        let data = [UInt8](repeating: 7, count: 4096)
        var slots = [Int32](repeating: -1, count: 4)
        data.withUnsafeBytes { bytes in
            ring.prepareWrite(fd: fd, bytes, offset: 0, slot: 2, linkNext: true)
            ring.prepareDatasync(fd: fd, slot: 3)
        }
        try slots.withUnsafeMutableBufferPointer { try ring.submitAndWait(2, into: $0) }
        #expect(slots == [-1, -1, 4096, 0])
    }

    @Test func missingDirectoryIsATypedError() {
        do {
            _ = try DurableFile(path: "/nonexistent-keel-dir/file", create: true, backend: .sync)
            Issue.record("opening under a missing directory succeeded")
        } catch {
            #expect(error.errno == .noSuchFile)
            #expect(error.path == "/nonexistent-keel-dir/file")
            #expect(error.operation == "open")
        }
    }

    @Test(.enabled(if: TestMount.available, "needs CAP_SYS_ADMIN to mount a small tmpfs"))
    func fullDiskIsATypedErrorWithThePath() throws {
        let mount = try #require(TestMount(options: "size=64k"))
        defer { mount.unmount() }
        let path = mount.path + "/big"
        let file = try DurableFile(path: path, create: true, backend: .sync)
        do {
            try file.preallocate(bytes: 1 << 20)
            Issue.record("preallocating 1 MiB on a 64 KiB tmpfs succeeded")
        } catch {
            #expect(error.errno == .noSpace)
            #expect(error.isResourceExhausted)
            #expect(error.path == path)
            #expect(error.description.contains("free space"))
        }
    }

    @Test func shortWritesAreResumed() throws {
        // pwritev advances through iovecs after a partial write: checked on the helper that
        // does the bookkeeping, with a write the kernel could split anywhere.
        var storage = [UInt8](repeating: 1, count: 10)
        try storage.withUnsafeMutableBytes { raw in
            var vectors = [iovec(iov_base: raw.baseAddress, iov_len: 4), iovec(iov_base: raw.baseAddress! + 4, iov_len: 6)]
            try vectors.withUnsafeMutableBufferPointer { buffer in
                var first = 0
                Syscalls.advance(buffer, first: &first, by: 5)
                #expect(first == 1)
                #expect(buffer[1].iov_len == 5)
                #expect(buffer[1].iov_base == raw.baseAddress! + 5)
                Syscalls.advance(buffer, first: &first, by: 5)
                #expect(first == 2)
                let directory = TemporaryDirectory()
                defer { directory.remove() }
                let fd = try Syscalls.open(directory.child("v"), flags: O_RDWR | O_CREAT)
                defer { Syscalls.close(fd) }
                buffer[0] = iovec(iov_base: raw.baseAddress, iov_len: 4)
                buffer[1] = iovec(iov_base: raw.baseAddress! + 4, iov_len: 6)
                try Syscalls.pwritevAll(fd, buffer, offset: 0, path: directory.child("v"))
                #expect(TestFiles.read(directory.child("v")) == [UInt8](repeating: 1, count: 10))
            }
        }
    }
}

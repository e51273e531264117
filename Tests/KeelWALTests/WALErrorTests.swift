#if canImport(Glibc)
import Glibc
#endif
import KeelIO
import KeelTestSupport
import KeelWAL
import Testing

@Suite struct WALErrorTests {
    @Test(.enabled(if: TestMount.available, "needs CAP_SYS_ADMIN to mount a read-only tmpfs"))
    func unwritableDirectoryIsATypedError() throws {
        let mount = try #require(TestMount(options: "size=64k", readOnly: true))
        defer { mount.unmount() }
        let error = #expect(throws: WALError.self) { _ = try WAL.open(directory: mount.path + "/wal", options: testOptions()) }
        guard case .io(let io) = error else {
            Issue.record("expected an I/O error, got \(String(describing: error))")
            return
        }
        #expect(io.errno == .readOnlyFileSystem)
        #expect(io.path == mount.path + "/wal")
    }

    @Test func aPathThatIsAFileIsATypedError() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        TestFiles.write(directory.child("file"), [1])
        let error = #expect(throws: WALError.self) { _ = try WAL.open(directory: directory.child("file") + "/wal", options: testOptions()) }
        guard case .io(let io) = error else {
            Issue.record("expected an I/O error, got \(String(describing: error))")
            return
        }
        #expect(io.errno == Errno(rawValue: ENOTDIR))
    }

    /// A disk that fills up: the append that cannot be written fails with a typed error, the
    /// WAL refuses everything after it, and every record acknowledged before is on disk.
    @Test(.enabled(if: TestMount.available, "needs CAP_SYS_ADMIN to mount a small tmpfs"),
          arguments: DurableFileTestsBackends.all)
    func fullDiskFailsTypedAndLosesNothingAcknowledged(backend: IOBackendChoice) throws {
        let mount = try #require(TestMount(options: "size=256k"))
        defer { mount.unmount() }
        let options = testOptions(segmentBytes: 48 << 10, backend: backend)
        let (wal, _) = try WAL.open(directory: mount.path + "/wal", options: options)
        var acknowledged: [WALEntry] = []
        var failure: WALError?
        for index in 1...10_000 {
            let next = entry(UInt64(index), size: 900)
            do {
                try wal.appendAndWait([.entry(next)])
                acknowledged.append(next)
            } catch {
                failure = error
                break
            }
        }
        guard case .failed(let io) = failure else {
            Issue.record("expected the WAL to fail, got \(String(describing: failure))")
            wal.close()
            return
        }
        #expect(io.errno == .noSpace)
        #expect(io.path.hasPrefix(mount.path + "/wal/"))
        #expect(throws: WALError.failed(io)) { try wal.appendAndWait([.entry(entry(1))]) }
        #expect(wal.close() == io)
        #expect(acknowledged.count > 100)

        let (again, replay) = try WAL.open(directory: mount.path + "/wal", options: options)
        again.close()
        #expect(replay.entries.digest == acknowledged.digest)
    }

    @Test func oversizedRecordIsRefusedUpFront() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (wal, _) = try WAL.open(directory: directory.path, options: testOptions())
        defer { wal.close() }
        let huge = WALEntry(term: Term(1), index: LogIndex(1), data: [UInt8](repeating: 0, count: RecordFormat.payloadBytesMax))
        #expect(throws: WALError.recordTooLarge(bytes: RecordFormat.payloadBytesMax + 24, limit: RecordFormat.payloadBytesMax)) {
            try wal.appendAndWait([.entry(huge)])
        }
        try wal.appendAndWait([.entry(entry(1))])
    }

    @Test func aMissingSegmentIsRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try WAL.writeOneByOne((1...200).map { .entry(entry($0, size: 200)) }, directory: directory.path, options: testOptions(segmentBytes: 8192))
        let files = try segmentFiles(in: directory.path)
        #expect(files.count >= 3)
        try Syscalls.unlink(directory.child(files[1]))
        let error = #expect(throws: WALError.self) { _ = try WAL.open(directory: directory.path, options: testOptions(segmentBytes: 8192)) }
        #expect(error?.description.contains("a segment is missing") == true)
    }
}

import KeelIO
import KeelMVCC
import Synchronization

/// The key-space workloads of `keel-bench mvcc` on one store: the puts that load it, then
/// point gets of what they loaded on reader threads.
struct MVCCBenchmark {
    /// Gets between two updates of the shared counter (and checks of the deadline).
    static let getsPerBatch = 1000
    /// Term of every applied entry: one leader for the whole run.
    static let term: UInt64 = 1

    let store: KVStore
    let space: StorageKeySpace
    /// Puts per apply batch (`KVStore.beginBatch()` ... `endBatch()`, one publish each).
    let applyBatch: Int
    let progress: ProgressLine

    /// Puts key numbers 0..<count in order (the keys scatter over the key order), each its own
    /// write transaction applying the next raft index, in apply batches of `applyBatch` puts,
    /// as the apply loop does; then flushes. Key number n gets revision first + n.
    func put() throws(BenchFailure) -> MVCCPhase {
        var key = space.makeKeyBuffer()
        var value = space.makeValueBuffer()
        let firstIndex = store.consistentIndex.index + 1
        let commitsBefore = store.storageCommits
        let clock = StorageClock()
        var lastUpdate = clock.wallNanoseconds
        do {
            for n in 0..<space.count {
                if n % applyBatch == 0 { store.beginBatch() }
                space.writeKey(n, into: &key)
                space.writeValue(n, version: 0, into: &value)
                let applied = try store.put(PutRequest(key: key, value: value),
                                            applying: ConsistentIndex(index: firstIndex + UInt64(n), term: Self.term))
                guard case .success = applied.response else { throw BenchFailure("mvcc put: key number \(n) refused: \(applied.response)") }
                if (n + 1) % applyBatch == 0 || n + 1 == space.count { store.endBatch() }
                if n & 0xFFFF == 0 {
                    let now = BenchSystem.monotonicNanoseconds()
                    if now - lastUpdate >= ProgressLine.refreshNanoseconds {
                        lastUpdate = now
                        progress.update("mvcc put: \(Format.grouped(UInt64(n))) of \(Format.grouped(UInt64(space.count)))")
                    }
                }
            }
            try store.flush()
        } catch let error as BenchFailure {
            throw error
        } catch {
            throw BenchFailure("mvcc put: \(error)")
        }
        let storagePhase = clock.phase(operations: space.count)
        return MVCCPhase(operations: UInt64(space.count), threads: 1, seconds: storagePhase.seconds,
                         cpuSeconds: storagePhase.cpuSeconds, storageCommits: store.storageCommits - commitsBefore)
    }

    /// `threads` reader threads each Range one uniformly random loaded key at a time (checking
    /// its value, version and revision) until `seconds` have passed.
    func gets(threads: Int, seconds: Double) throws(BenchFailure) -> MVCCPhase {
        precondition(threads >= 1)
        let run = StorageReaderRun()
        let cpu = MVCCCPUTotal()
        let store = self.store
        let space = self.space
        // The loaded keys' revisions: key number n was put at firstRevision + n.
        let firstRevision = store.currentRevision - Int64(space.count) + 1
        let handles = (0..<threads).map { thread in
            JoinHandle(OSThread(name: "keel-bench-mvcc-reader-\(thread)") {
                let cpuStart = BenchSystem.threadCPUNanoseconds()
                Self.readUntilDeadline(store: store, space: space, firstRevision: firstRevision,
                                       thread: thread + threads << 8, run: run)
                cpu.nanoseconds.add(BenchSystem.threadCPUNanoseconds() - cpuStart, ordering: .relaxed)
            })
        }
        let start = run.time(seconds: seconds, progress: progress, label: "mvcc get × \(threads)")
        handles.forEach { $0.join() }
        let elapsed = Double(BenchSystem.monotonicNanoseconds() - start) / 1e9
        if let failure = run.failure(threads: threads) { throw failure }
        return MVCCPhase(operations: run.gets, threads: threads, seconds: elapsed,
                         cpuSeconds: Double(cpu.nanoseconds.load(ordering: .relaxed)) / 1e9)
    }

    /// The body of reader thread `thread`; its keys come from a generator of its own.
    private static func readUntilDeadline(store: KVStore, space: StorageKeySpace, firstRevision: Int64,
                                          thread: Int, run: StorageReaderRun) {
        let deadline = run.waitForStart()
        var random = SplitMix64(seed: space.seed ^ (0x4D56_4343 &+ UInt64(thread) << 32))
        var key = space.makeKeyBuffer()
        var expected = space.makeValueBuffer()
        var failure: BenchFailure?
        do throws(BenchFailure) {
            while BenchSystem.monotonicNanoseconds() < deadline && !run.failed {
                for _ in 0..<getsPerBatch {
                    let n = random.below(space.count)
                    space.writeKey(n, into: &key)
                    guard case .success(let response) = store.range(RangeRequest(key: key)) else {
                        throw BenchFailure("mvcc get: key number \(n) refused")
                    }
                    guard response.kvs.count == 1 else { throw BenchFailure("mvcc get: key number \(n) is missing") }
                    let kv = response.kvs[0]
                    space.writeValue(n, version: 0, into: &expected)
                    guard kv.key == key, kv.value == expected, kv.version == 1, kv.modRevision == firstRevision + Int64(n) else {
                        throw BenchFailure("mvcc get: key number \(n) reads \(kv.value.count) bytes at revision \(kv.modRevision), version \(kv.version): not what was put")
                    }
                }
                run.add(gets: getsPerBatch)
            }
        } catch {
            failure = error
        }
        run.finish(failure: failure)
    }
}

/// CPU time the reader threads of one phase add up.
final class MVCCCPUTotal: Sendable {
    let nanoseconds = Atomic<UInt64>(0)
}

/// One workload's measurement.
struct MVCCPhase: Sendable {
    var operations: UInt64
    var threads: Int
    var seconds: Double
    /// CPU time (user and system) of the writing thread, or of every reader thread.
    var cpuSeconds: Double? = nil
    /// B+tree commits the phase made.
    var storageCommits: Int = 0

    var operationsPerSecond: Double { seconds > 0 ? Double(operations) / seconds : 0 }
    var cpuMicrosecondsPerOperation: Double? {
        guard let cpuSeconds, operations > 0 else { return nil }
        return cpuSeconds * 1e6 / Double(operations)
    }
}

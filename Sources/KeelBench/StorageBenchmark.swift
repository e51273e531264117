import KeelIO

/// The workloads of `keel-bench storage` on one engine, as steps small enough to interleave
/// with the other engine's (see `StorageRounds`): one load commit, one scan, one stretch of
/// random gets, one update commit. Each step returns how long it took.
struct StorageBenchmark<Engine: StorageEngine> {
    static var putsPerCommit: Int { StorageWorkload.putsPerCommit }
    static var getsPerTransaction: Int { StorageWorkload.getsPerTransaction }

    let engine: Engine
    let space: StorageKeySpace
    let progress: ProgressLine

    private var label: String { "storage \(Engine.name)" }

    /// Inserts the key numbers `numbers` in one durable commit.
    func loadCommit(_ numbers: ArraySlice<Int>) throws(BenchFailure) -> StoragePhase {
        var key = space.makeKeyBuffer()
        var value = space.makeValueBuffer()
        let start = StorageClock()
        let writer = try engine.beginWrite()
        for n in numbers {
            space.writeKey(n, into: &key)
            space.writeValue(n, version: 0, into: &value)
            try writer.put(key, value)
        }
        try writer.commit()
        return start.phase(operations: numbers.count)
    }

    /// Visits every key in one read transaction, reading each value's first byte, and checks
    /// the count and those bytes against what the load wrote.
    func scan() throws(BenchFailure) -> StoragePhase {
        var expected: UInt8 = 0
        for n in 0..<space.count { expected ^= space.checkByte(n, version: 0) }
        progress.update("\(label) scan")
        let start = BenchSystem.monotonicNanoseconds()
        let reader = try engine.beginRead()
        defer { reader.end() }
        var seen: UInt8 = 0
        let keys = try reader.scan { seen ^= $0 }
        let elapsed = Double(BenchSystem.monotonicNanoseconds() - start) / 1e9
        guard keys == space.count else { throw BenchFailure("\(label) scan: found \(keys) keys, loaded \(space.count)") }
        guard seen == expected else { throw BenchFailure("\(label) scan: the values' first bytes are not the ones loaded") }
        return StoragePhase(operations: UInt64(keys), commits: 0, threads: 1, seconds: elapsed)
    }

    /// `threads` reader threads each loop: begin a read transaction, get
    /// `getsPerTransaction` uniformly random loaded keys (checking each value's first byte),
    /// end it; until `seconds` have passed. `round` varies the keys from one call to the next.
    func randomGets(threads: Int, seconds: Double, round: Int) throws(BenchFailure) -> StoragePhase {
        precondition(threads >= 1)
        let run = StorageReaderRun()
        let engine = self.engine
        let space = self.space
        let handles = (0..<threads).map { thread in
            JoinHandle(OSThread(name: "keel-bench-reader-\(thread)") {
                Self.readUntilDeadline(engine: engine, space: space, thread: thread + round << 8, run: run)
            })
        }
        let start = run.time(seconds: seconds, progress: progress, label: "\(label) get × \(threads)")
        handles.forEach { $0.join() }
        let elapsed = Double(BenchSystem.monotonicNanoseconds() - start) / 1e9
        if let failure = run.failure(threads: threads) { throw failure }
        return StoragePhase(operations: run.gets, commits: 0, threads: threads, seconds: elapsed)
    }

    /// The body of reader thread `thread`; its keys come from a generator of its own.
    private static func readUntilDeadline(engine: Engine, space: StorageKeySpace, thread: Int, run: StorageReaderRun) {
        let deadline = run.waitForStart()
        var random = SplitMix64(seed: space.seed ^ (0x5245_4144 &+ UInt64(thread) << 32))
        var key = space.makeKeyBuffer()
        var failure: BenchFailure?
        do throws(BenchFailure) {
            while BenchSystem.monotonicNanoseconds() < deadline && !run.failed {
                let reader = try engine.beginRead()
                defer { reader.end() }
                for _ in 0..<getsPerTransaction {
                    let n = random.below(space.count)
                    space.writeKey(n, into: &key)
                    guard let byte = try reader.firstValueByte(key) else {
                        throw BenchFailure("storage \(Engine.name) get: key number \(n) is missing")
                    }
                    guard byte == space.checkByte(n, version: 0) else {
                        throw BenchFailure("storage \(Engine.name) get: key number \(n) has a value that was never written")
                    }
                }
                run.add(gets: getsPerTransaction)
            }
        } catch {
            failure = error
        }
        run.finish(failure: failure)
    }

    /// Overwrites `putsPerCommit` random loaded keys, drawn from `random`, with values of
    /// `version`, in one durable commit.
    func updateCommit(random: inout SplitMix64, version: UInt64) throws(BenchFailure) -> StoragePhase {
        var key = space.makeKeyBuffer()
        var value = space.makeValueBuffer()
        let start = StorageClock()
        let writer = try engine.beginWrite()
        for _ in 0..<Self.putsPerCommit {
            let n = random.below(space.count)
            space.writeKey(n, into: &key)
            space.writeValue(n, version: version, into: &value)
            try writer.put(key, value)
        }
        try writer.commit()
        return start.phase(operations: Self.putsPerCommit)
    }
}

/// The start of one commit's measurement: wall clock and the thread's CPU time.
struct StorageClock {
    let wallNanoseconds = BenchSystem.monotonicNanoseconds()
    let cpuNanoseconds = BenchSystem.threadCPUNanoseconds()

    /// The commit that began at this clock and has just ended, having done `operations` puts.
    func phase(operations: Int) -> StoragePhase {
        let cpu = BenchSystem.threadCPUNanoseconds() - cpuNanoseconds
        let wall = BenchSystem.monotonicNanoseconds() - wallNanoseconds
        return StoragePhase(operations: UInt64(operations), commits: 1, threads: 1, seconds: Double(wall) / 1e9,
                            cpuSeconds: Double(cpu) / 1e9)
    }
}

/// One workload's measurement on one engine.
struct StoragePhase: Sendable {

    /// Puts, gets or keys scanned.
    var operations: UInt64
    /// Durable commits (0 for reads).
    var commits: UInt64
    var threads: Int
    var seconds: Double
    /// CPU time of the committing thread (user and system), for the write phases.
    var cpuSeconds: Double? = nil
    var operationsPerSecond: Double { seconds > 0 ? Double(operations) / seconds : 0 }

    /// This phase and `other` (the same workload, a later round) as one measurement.
    func adding(_ other: StoragePhase) -> StoragePhase {
        StoragePhase(operations: operations + other.operations, commits: commits + other.commits,
                     threads: max(threads, other.threads), seconds: seconds + other.seconds,
                     cpuSeconds: cpuSeconds.flatMap { mine in other.cpuSeconds.map { mine + $0 } })
    }
}

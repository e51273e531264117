import KeelIO

/// The workloads of `keel-bench storage` on one engine, in the order they run: load every key,
/// scan them all, random gets on 1 and then 2 reader threads, random updates. The scan runs
/// before the gets so that the timed gets find the file already mapped and faulted in, as a
/// long-running server's reads would.
struct StorageBenchmark<Engine: StorageEngine> {
    static var putsPerCommit: Int { StorageWorkload.putsPerCommit }
    static var getsPerTransaction: Int { StorageWorkload.getsPerTransaction }

    let engine: Engine
    let space: StorageKeySpace
    /// Length of each timed phase (gets, updates).
    let seconds: Double
    let progress: ProgressLine

    private var label: String { "storage \(Engine.name)" }

    /// Inserts key numbers in `order`, `putsPerCommit` to a durable commit.
    func load(order: [Int]) throws(BenchFailure) -> StoragePhase {
        precondition(order.count == space.count)
        var key = space.makeKeyBuffer()
        var value = space.makeValueBuffer()
        var done = 0
        var commits: UInt64 = 0
        let start = BenchSystem.monotonicNanoseconds()
        var nextRefresh = start + ProgressLine.refreshNanoseconds
        while done < order.count {
            let batchEnd = min(done + Self.putsPerCommit, order.count)
            let writer = try engine.beginWrite()
            for n in order[done..<batchEnd] {
                space.writeKey(n, into: &key)
                space.writeValue(n, version: 0, into: &value)
                try writer.put(key, value)
            }
            try writer.commit()
            commits += 1
            done = batchEnd
            let now = BenchSystem.monotonicNanoseconds()
            if now >= nextRefresh {
                nextRefresh = now + ProgressLine.refreshNanoseconds
                progress.update("\(label) load: \(Format.grouped(UInt64(done)))/\(Format.grouped(UInt64(order.count))) keys, \(Format.fixed(Double(now - start) / 1e9, decimals: 1)) s")
            }
        }
        let elapsed = Double(BenchSystem.monotonicNanoseconds() - start) / 1e9
        return StoragePhase(operations: UInt64(done), commits: commits, threads: 1, seconds: elapsed)
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
    /// end it; until `seconds` have passed.
    func randomGets(threads: Int) throws(BenchFailure) -> StoragePhase {
        precondition(threads >= 1)
        let run = StorageReaderRun()
        let engine = self.engine
        let space = self.space
        let handles = (0..<threads).map { thread in
            JoinHandle(OSThread(name: "keel-bench-reader-\(thread)") {
                Self.readUntilDeadline(engine: engine, space: space, thread: thread, run: run)
            })
        }
        let start = BenchSystem.monotonicNanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        run.start(deadline: deadline)
        while true {
            let now = BenchSystem.monotonicNanoseconds()
            if now >= deadline || run.failed { break }
            BenchSystem.sleep(nanoseconds: min(ProgressLine.refreshNanoseconds, deadline - now))
            let elapsed = Double(BenchSystem.monotonicNanoseconds() - start) / 1e9
            progress.update("\(label) get × \(threads): \(Format.fixed(min(elapsed, seconds), decimals: 1))/\(Format.fixed(seconds, decimals: 1)) s, \(Format.grouped(run.gets)) gets")
        }
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

    /// Overwrites uniformly random loaded keys with new values, `putsPerCommit` to a durable
    /// commit, until `seconds` have passed (at least one commit).
    func randomUpdates() throws(BenchFailure) -> StoragePhase {
        var random = SplitMix64(seed: space.seed ^ 0x5550_4441_5445)
        var key = space.makeKeyBuffer()
        var value = space.makeValueBuffer()
        var commits: UInt64 = 0
        let start = BenchSystem.monotonicNanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        var nextRefresh = start + ProgressLine.refreshNanoseconds
        var now = start
        repeat {
            let writer = try engine.beginWrite()
            for _ in 0..<Self.putsPerCommit {
                let n = random.below(space.count)
                space.writeKey(n, into: &key)
                space.writeValue(n, version: commits + 1, into: &value)
                try writer.put(key, value)
            }
            try writer.commit()
            commits += 1
            now = BenchSystem.monotonicNanoseconds()
            if now >= nextRefresh {
                nextRefresh = now + ProgressLine.refreshNanoseconds
                progress.update("\(label) update: \(Format.fixed(min(Double(now - start) / 1e9, seconds), decimals: 1))/\(Format.fixed(seconds, decimals: 1)) s, \(Format.grouped(commits)) commits")
            }
        } while now < deadline
        let puts = commits * UInt64(Self.putsPerCommit)
        return StoragePhase(operations: puts, commits: commits, threads: 1, seconds: Double(now - start) / 1e9)
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
    var operationsPerSecond: Double { seconds > 0 ? Double(operations) / seconds : 0 }
}

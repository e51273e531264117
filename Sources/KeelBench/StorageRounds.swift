/// One engine in `keel-bench storage`: its workload steps behind closures, so that engines of
/// different types can take turns, and what has been measured of it so far. Each closure runs
/// a whole specialised loop (a commit of 1000 puts, a scan, seconds of gets), so calling
/// through it costs nothing measurable.
final class StorageContender {
    var run: StorageEngineRun
    let dataPath: String
    let loadCommit: (ArraySlice<Int>) throws(BenchFailure) -> StoragePhase
    let scan: () throws(BenchFailure) -> StoragePhase
    let randomGets: (_ threads: Int, _ seconds: Double, _ round: Int) throws(BenchFailure) -> StoragePhase
    let updateCommit: (inout SplitMix64, UInt64) throws(BenchFailure) -> StoragePhase
    /// The update keys; every engine starts from the same seed, so all update the same keys.
    var updateRandom: SplitMix64

    init<Engine: StorageEngine>(_ benchmark: StorageBenchmark<Engine>) {
        run = StorageEngineRun(name: Engine.name)
        run.summary = benchmark.engine.summary
        dataPath = benchmark.engine.dataPath
        loadCommit = { numbers throws(BenchFailure) in try benchmark.loadCommit(numbers) }
        scan = { () throws(BenchFailure) in try benchmark.scan() }
        randomGets = { threads, seconds, round throws(BenchFailure) in
            try benchmark.randomGets(threads: threads, seconds: seconds, round: round)
        }
        updateCommit = { random, version throws(BenchFailure) in try benchmark.updateCommit(random: &random, version: version) }
        updateRandom = SplitMix64(seed: benchmark.space.seed ^ 0x5550_4441_5445)
    }

    var failed: Bool { run.failure != nil }

    func seconds(_ workload: StorageWorkload) -> Double { run.phases[workload]?.seconds ?? 0 }

    /// Runs one step unless this engine already failed; a failure ends its part of the run and
    /// keeps what was measured before.
    func step(_ workload: StorageWorkload, progress: ProgressLine, _ body: (StorageContender) throws(BenchFailure) -> StoragePhase) {
        guard !failed else { return }
        do {
            let phase = try body(self)
            run.phases[workload] = run.phases[workload].map { $0.adding(phase) } ?? phase
        } catch {
            run.failure = error.description
            progress.note("keel-bench: \(run.name): \(error)")
        }
    }
}

/// The order of `keel-bench storage`: the engines take turns inside every workload, so that
/// both run under the same conditions however the machine's load drifts (a neighbour's build,
/// the page cache, the disk's own background work): one commit each in the load and the update
/// phases, and alternating rounds of the scan and of each get phase. Running one engine's
/// whole suite after the other's made their ratio swing by a third from run to run.
struct StorageRounds {
    static let scanRounds = 2
    static let getRounds = 3

    let space: StorageKeySpace
    let seconds: Double
    let progress: ProgressLine

    func run(_ contenders: [StorageContender], order: [Int]) {
        load(contenders, order: order)
        for contender in contenders { contender.run.fileBytesAfterLoad = BenchSystem.fileBytes(contender.dataPath) }
        for round in 0..<Self.scanRounds {
            for contender in contenders {
                progress.update("storage \(contender.run.name) scan, round \(round + 1) of \(Self.scanRounds)")
                contender.step(.scan, progress: progress) { c throws(BenchFailure) in try c.scan() }
            }
        }
        for (workload, threads) in [(StorageWorkload.get1, 1), (.get2, 2)] {
            for round in 0..<Self.getRounds {
                for contender in contenders {
                    contender.step(workload, progress: progress) { c throws(BenchFailure) in
                        try c.randomGets(threads, seconds / Double(Self.getRounds), round)
                    }
                }
            }
        }
        update(contenders)
        for contender in contenders { contender.run.fileBytesAtEnd = BenchSystem.fileBytes(contender.dataPath) }
    }

    /// Every engine commits the same batch of `putsPerCommit` keys in turn, until all are in.
    private func load(_ contenders: [StorageContender], order: [Int]) {
        var done = 0
        var nextRefresh = BenchSystem.monotonicNanoseconds()
        while done < order.count && contenders.contains(where: { !$0.failed }) {
            let batch = order[done..<min(done + StorageWorkload.putsPerCommit, order.count)]
            for contender in contenders {
                contender.step(.load, progress: progress) { c throws(BenchFailure) in try c.loadCommit(batch) }
            }
            done += batch.count
            let now = BenchSystem.monotonicNanoseconds()
            if now >= nextRefresh {
                nextRefresh = now + ProgressLine.refreshNanoseconds
                progress.update("storage load: \(Format.grouped(UInt64(done)))/\(Format.grouped(UInt64(order.count))) keys")
            }
        }
    }

    /// Every engine commits `putsPerCommit` random updates in turn, until each has spent
    /// `seconds` in its own commits.
    private func update(_ contenders: [StorageContender]) {
        var version: UInt64 = 1
        var nextRefresh = BenchSystem.monotonicNanoseconds()
        while contenders.contains(where: { !$0.failed && $0.seconds(.update) < seconds }) {
            for contender in contenders {
                contender.step(.update, progress: progress) { c throws(BenchFailure) in try c.updateCommit(&c.updateRandom, version) }
            }
            version += 1
            let now = BenchSystem.monotonicNanoseconds()
            if now >= nextRefresh {
                nextRefresh = now + ProgressLine.refreshNanoseconds
                progress.update("storage update: \(version - 1) commits each")
            }
        }
    }
}

import KeelRaft

/// An entry as the checker sees it: where it sits and a digest of what it holds (kind and data).
public struct EntryFingerprint: Hashable, Sendable, CustomStringConvertible {
    public let index: LogIndex
    public let term: Term
    public let digest: UInt64

    public init(index: LogIndex, term: Term, digest: UInt64) {
        self.index = index
        self.term = term
        self.digest = digest
    }

    public init(_ entry: Entry) {
        index = entry.index
        term = entry.term
        digest = Digest.bytes(entry.data, seed: Digest.combine(Digest.empty, UInt64(entry.kind.rawValue)))
    }

    public var description: String { "\(term)/\(index)#\(String(digest >> 48, radix: 16))" }
}

/// Checks Raft's safety properties against what the nodes of one run did, as the simulator
/// reports it after every step. It knows nothing of KeelRaft's internals: it is fed
/// observations (who leads which term, what each node made durable, what it committed and
/// applied, which reads it answered), so tests can feed it hand-made histories too.
///
/// Every check is incremental, O(entries observed), so it can run after every step:
/// - election safety: a table term → the one node seen leading it;
/// - log matching: every (index, term) ever made durable anywhere is remembered with its
///   digest and the term of the entry before it. Two logs holding the same (index, term) then
///   hold the same entry there and, by induction over the predecessor terms, the same
///   entries all the way down, which is the log matching property without pairwise scans;
/// - leader completeness: see `CommitMark`;
/// - state machine safety: one global applied sequence (per index: entry and running state
///   digest) that each node's applied stream must follow index by index;
/// - commit monotonicity and linearizable reads: see the methods.
public struct SafetyChecker: Sendable {
    /// What the checker knows about one node slot.
    struct NodeView: Sendable {
        var commit = LogIndex.zero
        var appliedIndex = LogIndex.zero
        var appliedState = Digest.empty
        var term = Term.zero
    }

    /// "The entry at `index` (of term `entryTerm`) was committed, as seen by a node whose term
    /// was `seenInTerm`". The leader that decided the commit led a term ≤ `seenInTerm`, so
    /// every leader of a term > `seenInTerm` must hold the entry. Kept as a Pareto frontier:
    /// sorted by index with `seenInTerm` strictly increasing, so a new leader of term T
    /// checks only the highest mark with `seenInTerm` < T (log matching covers the rest).
    struct CommitMark: Sendable, Equatable {
        var index: LogIndex
        var entryTerm: Term
        var seenInTerm: Term
    }

    struct Applied: Sendable {
        let entry: EntryFingerprint
        /// The running digest of the state after applying this entry.
        let state: UInt64
    }

    struct EntryKey: Hashable, Sendable {
        let index: LogIndex
        let term: Term
    }

    struct EntryRecord: Sendable {
        let digest: UInt64
        let previousTerm: Term
        let node: Int
    }

    private var nodes: [NodeView]
    private var leaderOfTerm: [Term: Int] = [:]
    private var entries: [EntryKey: EntryRecord] = [:]
    private var commitMarks: [CommitMark] = []
    /// Position k holds index k + 1.
    private var applied: [Applied] = []
    /// The highest commit index any node has reported: every entry up to it is committed.
    public private(set) var commitIndexMax = LogIndex.zero
    private var readBounds: [UInt64: (node: Int, bound: LogIndex)] = [:]

    public init(nodeCount: Int) {
        nodes = Array(repeating: NodeView(), count: nodeCount)
    }

    public var appliedCount: Int { applied.count }

    /// The running state digest after applying `index`, nil when no node applied it yet.
    public func stateDigest(at index: LogIndex) -> UInt64? {
        guard index > .zero, index.rawValue <= UInt64(applied.count) else { return index == .zero ? Digest.empty : nil }
        return applied[Int(index.rawValue - 1)].state
    }

    // MARK: Election safety

    /// `node` is leader of `term` now.
    public mutating func observeLeader(node: Int, term: Term) throws(SafetyViolation) {
        if let other = leaderOfTerm[term] {
            guard other == node else {
                throw SafetyViolation(.electionSafety, "nodes \(other) and \(node) both lead term \(term)")
            }
            return
        }
        leaderOfTerm[term] = node
    }

    /// Leader completeness, checked when `node` is first seen leading `term`: its log must hold
    /// the highest entry known committed by a leader of an earlier term. `termAt` answers
    /// the term of the node's entry at an index, nil when the index is inside its snapshot (a
    /// snapshot covers only committed entries, which the state digest check vouches for).
    public func checkNewLeader(node: Int, term: Term, lastIndex: LogIndex,
                               termAt: (LogIndex) -> Term?) throws(SafetyViolation) {
        guard let mark = commitMarks.last(where: { $0.seenInTerm < term }) else { return }
        guard lastIndex >= mark.index else {
            throw SafetyViolation(.leaderCompleteness,
                                  "node \(node) leads term \(term) with last index \(lastIndex), but \(mark.entryTerm)/\(mark.index) was committed (seen in term \(mark.seenInTerm))")
        }
        if let found = termAt(mark.index), found != mark.entryTerm {
            throw SafetyViolation(.leaderCompleteness,
                                  "node \(node) leads term \(term) with term \(found) at index \(mark.index), but \(mark.entryTerm)/\(mark.index) was committed (seen in term \(mark.seenInTerm))")
        }
    }

    // MARK: Log matching

    /// `node` made `entries` durable, a contiguous run following an entry of term
    /// `previousTerm` (the snapshot's term when the run starts right after a snapshot).
    public mutating func observePersisted(node: Int, entries run: [EntryFingerprint],
                                          previousTerm: Term) throws(SafetyViolation) {
        var previous = previousTerm
        var expectedIndex = run.first?.index
        for entry in run {
            precondition(entry.index == expectedIndex, "a persisted run must be contiguous")
            expectedIndex = entry.index.next
            guard entry.term >= previous else {
                throw SafetyViolation(.logMatching, "node \(node) persisted \(entry) after an entry of term \(previous): terms go down")
            }
            let key = EntryKey(index: entry.index, term: entry.term)
            if let known = entries[key] {
                guard known.digest == entry.digest else {
                    throw SafetyViolation(.logMatching, "node \(node) persisted \(entry), node \(known.node) persisted a different entry at \(entry.term)/\(entry.index)")
                }
                guard known.previousTerm == previous else {
                    throw SafetyViolation(.logMatching, "node \(node) has \(entry) after term \(previous), node \(known.node) has it after term \(known.previousTerm)")
                }
            } else {
                entries[key] = EntryRecord(digest: entry.digest, previousTerm: previous, node: node)
            }
            previous = entry.term
        }
    }

    // MARK: Commit

    /// `node`, in `term`, has commit index `commit`, and its entry there has `entryTerm` (nil
    /// when compacted away and unknown). Within one incarnation the commit never goes down.
    public mutating func observeCommit(node: Int, commit: LogIndex, term: Term,
                                       entryTerm: Term?) throws(SafetyViolation) {
        guard commit >= nodes[node].commit else {
            throw SafetyViolation(.commitMonotonicity, "node \(node) commit went from \(nodes[node].commit) down to \(commit)")
        }
        nodes[node].commit = commit
        nodes[node].term = term
        if commit > commitIndexMax { commitIndexMax = commit }
        if let entryTerm, commit > .zero { addCommitMark(CommitMark(index: commit, entryTerm: entryTerm, seenInTerm: term)) }
    }

    private mutating func addCommitMark(_ mark: CommitMark) {
        if commitMarks.contains(where: { $0.index >= mark.index && $0.seenInTerm <= mark.seenInTerm }) { return }
        commitMarks.removeAll { $0.index <= mark.index && $0.seenInTerm >= mark.seenInTerm }
        let position = commitMarks.firstIndex { $0.index > mark.index } ?? commitMarks.count
        commitMarks.insert(mark, at: position)
    }

    /// `node` crashed and restarted. It comes back with the commit index of its durable hard
    /// state and the state machine of its durable snapshot (`snapshotIndex`, `snapshotState`).
    ///
    /// The commit index may drop across a crash: an update that only moved the commit index
    /// is written without a sync (as etcd does: `mustSync` is false), so the crash may lose it.
    /// It may never rise (the disk cannot know more than the node did), and it may never be
    /// below the durable snapshot: the simulator syncs the hard state before it writes a
    /// snapshot, so a node never restarts with applied state beyond its commit index. Its
    /// applied stream restarts from the snapshot and must again follow the global sequence.
    public mutating func observeRestart(node: Int, durableCommit: LogIndex, snapshotIndex: LogIndex,
                                        snapshotState: UInt64) throws(SafetyViolation) {
        guard durableCommit <= nodes[node].commit else {
            throw SafetyViolation(.commitMonotonicity, "node \(node) restarted with commit \(durableCommit) above the \(nodes[node].commit) it had")
        }
        guard durableCommit >= snapshotIndex else {
            throw SafetyViolation(.commitMonotonicity, "node \(node) restarted with commit \(durableCommit) below its snapshot at \(snapshotIndex)")
        }
        nodes[node].commit = durableCommit
        try restoreState(node: node, index: snapshotIndex, state: snapshotState, why: "restarted from a snapshot")
    }

    // MARK: State machine

    /// `node` applied `entry`, the next index after what it applied before.
    public mutating func observeApplied(node: Int, entry: EntryFingerprint) throws(SafetyViolation) {
        let view = nodes[node]
        guard entry.index == view.appliedIndex.next else {
            throw SafetyViolation(.stateMachineSafety, "node \(node) applied \(entry) right after index \(view.appliedIndex)")
        }
        guard entry.index <= view.commit else {
            throw SafetyViolation(.stateMachineSafety, "node \(node) applied \(entry) beyond its commit index \(view.commit)")
        }
        let state = Self.state(view.appliedState, applying: entry)
        let position = Int(entry.index.rawValue - 1)
        if position < applied.count {
            let first = applied[position]
            guard first.entry == entry else {
                throw SafetyViolation(.stateMachineSafety, "node \(node) applied \(entry) where \(first.entry) was applied before")
            }
            guard first.state == state else {
                throw SafetyViolation(.stateMachineSafety, "node \(node) reached a different state at \(entry.index)")
            }
        } else {
            precondition(position == applied.count, "applied out of order after the contiguity check")
            applied.append(Applied(entry: entry, state: state))
        }
        nodes[node].appliedIndex = entry.index
        nodes[node].appliedState = state
    }

    /// The state digest after applying `entry` to a state whose digest is `state`: what the
    /// simulated state machine keeps, and what its snapshots carry.
    public static func state(_ state: UInt64, applying entry: EntryFingerprint) -> UInt64 {
        Digest.combine(Digest.combine(state, entry.digest), entry.term.rawValue)
    }

    /// `node` replaced its state machine with a snapshot's, taken at `index` with `state`.
    public mutating func observeSnapshotRestored(node: Int, index: LogIndex, state: UInt64) throws(SafetyViolation) {
        try restoreState(node: node, index: index, state: state, why: "restored a snapshot")
    }

    private mutating func restoreState(node: Int, index: LogIndex, state: UInt64, why: String) throws(SafetyViolation) {
        guard let known = stateDigest(at: index) else {
            throw SafetyViolation(.stateMachineSafety, "node \(node) \(why) at \(index), beyond every index any node applied")
        }
        guard known == state else {
            throw SafetyViolation(.stateMachineSafety, "node \(node) \(why) at \(index) whose state differs from the applied sequence")
        }
        nodes[node].appliedIndex = index
        nodes[node].appliedState = state
    }

    /// The index `node` applied through, and the state digest there.
    public func appliedIndex(of node: Int) -> LogIndex { nodes[node].appliedIndex }

    // MARK: Reads

    /// A ReadIndex request with `context` was handed to `node` now. Whatever answer it gets
    /// must be at least every commit index any node has reported so far: a write committed
    /// before a read began must be visible to it.
    public mutating func observeReadRequest(node: Int, context: UInt64) {
        precondition(readBounds[context] == nil, "read contexts are unique")
        readBounds[context] = (node, commitIndexMax)
    }

    /// `node` got the answer `index` for the read `context`.
    public mutating func observeReadState(node: Int, context: UInt64, index: LogIndex) throws(SafetyViolation) {
        guard let request = readBounds[context] else {
            throw SafetyViolation(.linearizableRead, "node \(node) got an answer (\(index)) to read \(context) that nobody asked")
        }
        guard request.node == node else {
            throw SafetyViolation(.linearizableRead, "node \(node) got the answer to read \(context), asked at node \(request.node)")
        }
        guard index >= request.bound else {
            throw SafetyViolation(.linearizableRead, "read \(context) at node \(node) answered index \(index), but \(request.bound) was committed before it was asked")
        }
        guard index <= commitIndexMax else {
            throw SafetyViolation(.linearizableRead, "read \(context) at node \(node) answered index \(index), beyond every commit index (\(commitIndexMax))")
        }
    }
}

import KeelRaft
import KeelRaftSimulation
import Testing

/// The checker must be able to fail: each test feeds it a small hand-made history that breaks
/// one property and expects that property reported (and a history that keeps it, accepted).

private func entry(_ index: UInt64, _ term: UInt64, _ digest: UInt64 = 0) -> EntryFingerprint {
    EntryFingerprint(index: LogIndex(index), term: Term(term), digest: digest == 0 ? index &* 31 &+ term : digest)
}

private func expectViolation(_ property: SafetyViolation.Property, _ body: () throws(SafetyViolation) -> Void) {
    do {
        try body()
        Issue.record("expected a \(property.rawValue) violation, the checker accepted the history")
    } catch {
        #expect(error.property == property, "\(error)")
    }
}

@Test func twoLeadersInOneTermAreReported() {
    var checker = SafetyChecker(nodeCount: 3)
    expectViolation(.electionSafety) { () throws(SafetyViolation) in
        try checker.observeLeader(node: 0, term: Term(2))
        try checker.observeLeader(node: 0, term: Term(2))
        try checker.observeLeader(node: 1, term: Term(3))
        try checker.observeLeader(node: 2, term: Term(2))
    }
}

@Test func differentEntriesAtOneIndexAndTermAreReported() {
    var checker = SafetyChecker(nodeCount: 3)
    expectViolation(.logMatching) { () throws(SafetyViolation) in
        try checker.observePersisted(node: 0, entries: [entry(1, 1), entry(2, 1, 77)], previousTerm: .zero)
        try checker.observePersisted(node: 1, entries: [entry(1, 1), entry(2, 1, 78)], previousTerm: .zero)
    }
}

@Test func sameEntryAfterDifferentPredecessorsIsReported() {
    var checker = SafetyChecker(nodeCount: 3)
    expectViolation(.logMatching) { () throws(SafetyViolation) in
        try checker.observePersisted(node: 0, entries: [entry(1, 1), entry(2, 1), entry(3, 3)], previousTerm: .zero)
        try checker.observePersisted(node: 1, entries: [entry(1, 1), entry(2, 2), entry(3, 3)], previousTerm: .zero)
    }
}

@Test func termsGoingDownInALogAreReported() {
    var checker = SafetyChecker(nodeCount: 3)
    expectViolation(.logMatching) { () throws(SafetyViolation) in
        try checker.observePersisted(node: 0, entries: [entry(1, 2), entry(2, 1)], previousTerm: .zero)
    }
}

@Test func aConsistentHistoryIsAccepted() throws {
    var checker = SafetyChecker(nodeCount: 3)
    try checker.observeLeader(node: 0, term: Term(1))
    try checker.observePersisted(node: 0, entries: [entry(1, 1), entry(2, 1)], previousTerm: .zero)
    try checker.observePersisted(node: 1, entries: [entry(1, 1)], previousTerm: .zero)
    // Node 1 overwrites an uncommitted suffix with term 2's entries: allowed.
    try checker.observePersisted(node: 2, entries: [entry(2, 2)], previousTerm: Term(1))
    try checker.observeCommit(node: 0, commit: LogIndex(1), term: Term(1), entryTerm: Term(1))
    try checker.observeApplied(node: 0, entry: entry(1, 1))
    try checker.observeCommit(node: 1, commit: LogIndex(1), term: Term(1), entryTerm: Term(1))
    try checker.observeApplied(node: 1, entry: entry(1, 1))
    try checker.observeLeader(node: 2, term: Term(2))
    try checker.checkNewLeader(node: 2, term: Term(2), lastIndex: LogIndex(2)) { $0 == LogIndex(1) ? Term(1) : Term(2) }
    checker.observeReadRequest(node: 1, context: 7)
    try checker.observeReadState(node: 1, context: 7, index: LogIndex(1))
}

@Test func aNewLeaderWithoutACommittedEntryIsReported() {
    var checker = SafetyChecker(nodeCount: 3)
    expectViolation(.leaderCompleteness) { () throws(SafetyViolation) in
        try checker.observePersisted(node: 0, entries: [entry(1, 1), entry(2, 1)], previousTerm: .zero)
        try checker.observeCommit(node: 0, commit: LogIndex(2), term: Term(1), entryTerm: Term(1))
        // Node 2 only has index 1 yet leads term 2.
        try checker.checkNewLeader(node: 2, term: Term(2), lastIndex: LogIndex(1)) { _ in Term(1) }
    }
    expectViolation(.leaderCompleteness) { () throws(SafetyViolation) in
        // Node 1 has something else at index 2.
        try checker.checkNewLeader(node: 1, term: Term(3), lastIndex: LogIndex(3)) { $0 == LogIndex(2) ? Term(2) : Term(1) }
    }
}

@Test func aStaleLeaderOfAnOlderTermIsNotHeldToLaterCommits() throws {
    var checker = SafetyChecker(nodeCount: 3)
    try checker.observeCommit(node: 0, commit: LogIndex(5), term: Term(4), entryTerm: Term(4))
    // A leader of term 3 elected late (its votes were in flight) need not hold term 4's commit.
    try checker.checkNewLeader(node: 1, term: Term(3), lastIndex: LogIndex(2)) { _ in Term(1) }
    // A leader of term 5 must.
    #expect(throws: SafetyViolation.self) {
        try checker.checkNewLeader(node: 1, term: Term(5), lastIndex: LogIndex(2)) { _ in Term(1) }
    }
}

@Test func divergingAppliedEntriesAreReported() {
    var checker = SafetyChecker(nodeCount: 3)
    expectViolation(.stateMachineSafety) { () throws(SafetyViolation) in
        try checker.observeCommit(node: 0, commit: LogIndex(2), term: Term(1), entryTerm: Term(1))
        try checker.observeCommit(node: 1, commit: LogIndex(2), term: Term(1), entryTerm: Term(1))
        try checker.observeApplied(node: 0, entry: entry(1, 1))
        try checker.observeApplied(node: 0, entry: entry(2, 1))
        try checker.observeApplied(node: 1, entry: entry(1, 1))
        try checker.observeApplied(node: 1, entry: entry(2, 1, 99))
    }
}

@Test func skippedOrUncommittedApplicationIsReported() {
    var checker = SafetyChecker(nodeCount: 3)
    expectViolation(.stateMachineSafety) { () throws(SafetyViolation) in
        try checker.observeCommit(node: 0, commit: LogIndex(3), term: Term(1), entryTerm: Term(1))
        try checker.observeApplied(node: 0, entry: entry(1, 1))
        try checker.observeApplied(node: 0, entry: entry(3, 1))
    }
    expectViolation(.stateMachineSafety) { () throws(SafetyViolation) in
        try checker.observeApplied(node: 1, entry: entry(1, 1))
    }
}

@Test func aSnapshotOfAnotherStateIsReported() throws {
    var checker = SafetyChecker(nodeCount: 3)
    try checker.observeCommit(node: 0, commit: LogIndex(1), term: Term(1), entryTerm: Term(1))
    try checker.observeApplied(node: 0, entry: entry(1, 1))
    let state = try #require(checker.stateDigest(at: LogIndex(1)))
    try checker.observeSnapshotRestored(node: 1, index: LogIndex(1), state: state)
    expectViolation(.stateMachineSafety) { () throws(SafetyViolation) in
        try checker.observeSnapshotRestored(node: 2, index: LogIndex(1), state: state ^ 1)
    }
}

@Test func aCommitIndexGoingDownIsReported() {
    var checker = SafetyChecker(nodeCount: 3)
    expectViolation(.commitMonotonicity) { () throws(SafetyViolation) in
        try checker.observeCommit(node: 0, commit: LogIndex(4), term: Term(1), entryTerm: Term(1))
        try checker.observeCommit(node: 0, commit: LogIndex(3), term: Term(1), entryTerm: Term(1))
    }
}

@Test func aRestartMayLoseUnsyncedCommitsButNotGainOrUndercutItsSnapshot() throws {
    var checker = SafetyChecker(nodeCount: 3)
    try checker.observeCommit(node: 0, commit: LogIndex(4), term: Term(1), entryTerm: Term(1))
    for index in 1...4 { try checker.observeApplied(node: 0, entry: entry(UInt64(index), 1)) }
    let state2 = try #require(checker.stateDigest(at: LogIndex(2)))
    // Came back with commit 3 (the update to 4 was unsynced) and a snapshot at 2: fine.
    try checker.observeRestart(node: 0, durableCommit: LogIndex(3), snapshotIndex: LogIndex(2), snapshotState: state2)
    expectViolation(.commitMonotonicity) { () throws(SafetyViolation) in
        try checker.observeRestart(node: 0, durableCommit: LogIndex(9), snapshotIndex: LogIndex(2), snapshotState: state2)
    }
    expectViolation(.commitMonotonicity) { () throws(SafetyViolation) in
        try checker.observeRestart(node: 0, durableCommit: LogIndex(1), snapshotIndex: LogIndex(2), snapshotState: state2)
    }
}

@Test func aStaleReadIsReported() throws {
    var checker = SafetyChecker(nodeCount: 3)
    try checker.observeCommit(node: 0, commit: LogIndex(5), term: Term(1), entryTerm: Term(1))
    checker.observeReadRequest(node: 2, context: 1)
    expectViolation(.linearizableRead) { () throws(SafetyViolation) in
        try checker.observeReadState(node: 2, context: 1, index: LogIndex(4))
    }
    expectViolation(.linearizableRead) { () throws(SafetyViolation) in
        try checker.observeReadState(node: 2, context: 1, index: LogIndex(6))
    }
    expectViolation(.linearizableRead) { () throws(SafetyViolation) in
        try checker.observeReadState(node: 2, context: 99, index: LogIndex(5))
    }
    try checker.observeReadState(node: 2, context: 1, index: LogIndex(5))
}

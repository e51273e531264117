@testable import KeelServer
import KeelMVCC
import Testing

/// The lessor follows raft leadership: demoted at once on losing it, promoted only once the
/// apply loop has applied through the log index it had when it won.
@Suite struct LeaseExpiryLeadershipTests {
    private func make() -> LeaseExpiryLeadership {
        LeaseExpiryLeadership(lessor: Lessor(config: LessorConfig(minTTLSeconds: 2)), extendNanoseconds: 1_000_000_000)
    }

    @Test func promotesOnlyAfterTheElectionIndexIsApplied() {
        let leadership = make()
        #expect(!leadership.promoteIfDue(appliedIndex: 100, nowNanoseconds: 0), "promoted without leadership")
        leadership.leadershipChanged(isLeader: true, lastIndex: 7)
        #expect(leadership.promotionPending && !leadership.lessor.isPrimary)
        #expect(!leadership.promoteIfDue(appliedIndex: 6, nowNanoseconds: 0))
        #expect(!leadership.lessor.isPrimary)
        #expect(leadership.promoteIfDue(appliedIndex: 7, nowNanoseconds: 0))
        #expect(leadership.lessor.isPrimary && !leadership.promotionPending)
        // Once per leadership: later turns leave the countdowns alone.
        #expect(!leadership.promoteIfDue(appliedIndex: 8, nowNanoseconds: 0))
        #expect(leadership.lessor.renew(LeaseID(1), nowNanoseconds: 0) == .refused(.leaseNotFound(LeaseID(1))))
    }

    @Test func losingLeadershipDemotesAndCancelsAPendingPromotion() {
        let leadership = make()
        leadership.leadershipChanged(isLeader: true, lastIndex: 3)
        #expect(leadership.promoteIfDue(appliedIndex: 3, nowNanoseconds: 0))
        leadership.leadershipChanged(isLeader: false, lastIndex: 9)
        #expect(!leadership.lessor.isPrimary)
        #expect(leadership.lessor.renew(LeaseID(1), nowNanoseconds: 0) == .notPrimary)

        leadership.leadershipChanged(isLeader: true, lastIndex: 12)
        leadership.leadershipChanged(isLeader: false, lastIndex: 12)
        #expect(!leadership.promoteIfDue(appliedIndex: 20, nowNanoseconds: 0), "promoted after leadership was lost")
        #expect(!leadership.lessor.isPrimary)
    }
}

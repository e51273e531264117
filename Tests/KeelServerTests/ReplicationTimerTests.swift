import KeelRaft
import Testing
@testable import KeelServer

/// The replication stage's round trips: an append's entries until the follower acknowledges them.
@Suite struct ReplicationTimerTests {
    private func append(to: UInt64, through last: UInt64) -> Message {
        Message(type: .append, to: NodeID(to), from: NodeID(1),
                entries: [Entry(term: Term(1), index: LogIndex(last), data: [])])
    }

    private func answer(from: UInt64, index: UInt64, reject: Bool = false) -> Message {
        Message(type: .appendResponse, to: NodeID(1), from: NodeID(from), index: LogIndex(index), reject: reject)
    }

    @Test func acknowledgementsCompleteEveryAppendTheyCover() {
        var timer = ReplicationTimer()
        timer.sent(append(to: 2, through: 5), now: 1_000)
        timer.sent(append(to: 2, through: 9), now: 1_500)
        timer.sent(append(to: 3, through: 9), now: 1_600)
        timer.sent(Message(type: .heartbeat, to: NodeID(2), from: NodeID(1)), now: 1_700)  // not timed
        timer.sent(Message(type: .append, to: NodeID(2), from: NodeID(1)), now: 1_800)  // no entries: not timed
        #expect(timer.received(answer(from: 2, index: 4), now: 2_000) == [])
        #expect(timer.received(answer(from: 2, index: 7), now: 3_000) == [2_000])
        #expect(timer.received(answer(from: 2, index: 9), now: 3_500) == [2_000])
        #expect(timer.received(answer(from: 2, index: 9), now: 4_000) == [])
        // A rejection forgets what was outstanding for that follower only.
        #expect(timer.received(answer(from: 3, index: 2, reject: true), now: 4_000) == [])
        #expect(timer.received(answer(from: 3, index: 9), now: 5_000) == [])
        timer.sent(append(to: 3, through: 10), now: 6_000)
        #expect(timer.received(answer(from: 3, index: 10), now: 6_250) == [250])
    }

    @Test func outstandingAppendsAreBounded() {
        var timer = ReplicationTimer()
        for index in 1...(ReplicationTimer.outstandingMax + 10) { timer.sent(append(to: 2, through: UInt64(index)), now: UInt64(index)) }
        #expect(timer.received(answer(from: 2, index: UInt64(ReplicationTimer.outstandingMax + 10)), now: 100_000).count
                == ReplicationTimer.outstandingMax)
    }
}

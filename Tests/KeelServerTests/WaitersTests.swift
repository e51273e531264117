import Synchronization
import Testing

@testable import KeelServer

/// Request deadlines are kept by `Waiters` and checked at each raft tick.
@Suite struct WaitersTests {
    @Test func expireCompletesOnlyTheWaitersPastTheirDeadlineOldestFirst() {
        let waiters = Waiters<String>(timedOut: "timed out")
        let heard = Mutex<[String]>([])
        for (id, deadline) in [(3, 30), (1, 10), (2, 20)] as [(UInt64, UInt64)] {
            waiters.register(id, deadline: deadline) { outcome in heard.withLock { $0.append("\(id) \(outcome)") } }
        }
        waiters.expire(now: 9)
        #expect(heard.withLock { $0 }.isEmpty)
        waiters.expire(now: 20)
        #expect(heard.withLock { $0 } == ["1 timed out", "2 timed out"])
        #expect(!waiters.complete(1, with: "applied"))
        #expect(waiters.complete(3, with: "applied"))
        waiters.expire(now: 1_000)
        #expect(heard.withLock { $0 } == ["1 timed out", "2 timed out", "3 applied"])
        #expect(waiters.count == 0)
    }
}

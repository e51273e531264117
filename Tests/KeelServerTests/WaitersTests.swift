import NIOCore
import NIOEmbedded
import NIOPosix
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

    @Test func aBatchOfAnswersRunsOnEachWaitersLoopInOneTaskInOrder() {
        let waiters = Waiters<String>(timedOut: "timed out")
        let first = EmbeddedEventLoop()
        let second = EmbeddedEventLoop()
        let heard = Mutex<[String]>([])
        let loops: [UInt64: EmbeddedEventLoop?] = [1: first, 2: second, 3: first, 4: nil]
        for id in loops.keys.sorted() {
            waiters.register(id, deadline: .max, on: loops[id]!) { outcome in heard.withLock { $0.append("\(id) \(outcome)") } }
        }
        waiters.complete([(3, "c"), (1, "a"), (9, "nobody"), (2, "b"), (4, "d")])
        #expect(heard.withLock { $0 } == ["4 d"], "only the waiter without a loop runs at once")
        second.run()
        #expect(heard.withLock { $0 } == ["4 d", "2 b"])
        first.run()
        #expect(heard.withLock { $0 } == ["4 d", "2 b", "3 c", "1 a"])
        #expect(waiters.count == 0)
    }

    @Test func aWaiterWithALoopIsCompletedOnItWhoeverCompletesIt() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let waiters = Waiters<String>(timedOut: "timed out")
        let done = loop.makePromise(of: Void.self)
        let heard = Mutex<[String]>([])
        for id in 1...3 as ClosedRange<UInt64> {
            waiters.register(id, deadline: id == 2 ? 10 : .max, on: loop) { outcome in
                let count = heard.withLock {
                    $0.append("\(id) \(outcome) on loop: \(loop.inEventLoop)")
                    return $0.count
                }
                if count == 3 { done.succeed() }
            }
        }
        #expect(waiters.complete(1, with: "refused"))
        waiters.expire(now: 10)
        waiters.completeAll(with: "stopped")
        try done.futureResult.wait()
        #expect(heard.withLock { $0 } == ["1 refused on loop: true", "2 timed out on loop: true", "3 stopped on loop: true"])
    }
}

import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

@testable import KeelServer

/// Proposals made during one event loop turn after its first reach the raft loop together at
/// the turn's end.
@Suite struct ProposalBatchesTests {
    @Test func aTurnsFirstProposalGoesAtOnceAndTheRestTogetherWhenTheTurnsTasksRun() {
        let mailbox = Mailbox<RaftInput>()
        let batches = ProposalBatches(mailbox: mailbox) { ids in Issue.record("refused \(ids)") }
        let loop = EmbeddedEventLoop()
        for id: UInt64 in [7, 3, 9] { batches.add([UInt8(id)], id: id, arrived: 0, on: loop) }
        #expect(ProposalBatches.ids(mailbox.take(waitingUntil: 0).items) == [7], "only the first is posted before the turn's tasks run")
        loop.run()
        #expect(ProposalBatches.ids(mailbox.take(waitingUntil: 0).items) == [3, 9])
        // The next turn starts over: its lone proposal is not held back.
        batches.add([UInt8(4)], id: 4, arrived: 0, on: loop)
        #expect(ProposalBatches.ids(mailbox.take(waitingUntil: 0).items) == [4])
        loop.run()
        #expect(mailbox.take(waitingUntil: 0).items.isEmpty)
    }

    @Test func proposalsForAClosedMailboxAreRefused() {
        let mailbox = Mailbox<RaftInput>()
        let refused = Mutex<[UInt64]>([])
        let batches = ProposalBatches(mailbox: mailbox) { ids in refused.withLock { $0 += ids } }
        let loop = EmbeddedEventLoop()
        mailbox.close()
        batches.add([UInt8(1)], id: 1, arrived: 0, on: loop)
        batches.add([UInt8(2)], id: 2, arrived: 0, on: loop)
        batches.add([UInt8(3)], id: 3, arrived: 0, on: loop)
        #expect(refused.withLock { $0 } == [1])
        loop.run()
        #expect(refused.withLock { $0 } == [1, 2, 3])
    }

    @Test func aProposalMadeOffItsEventLoopIsPostedAtOnce() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let mailbox = Mailbox<RaftInput>()
        let batches = ProposalBatches(mailbox: mailbox) { ids in Issue.record("refused \(ids)") }
        batches.add([UInt8(5)], id: 5, arrived: 0, on: group.next())
        #expect(ProposalBatches.ids(mailbox.take(waitingUntil: 0).items) == [5])
    }
}

import KeelIO
import KeelStorage
import KeelTestSupport
import Synchronization
import Testing
@testable import KeelMVCC

/// Readers on other threads during apply see only published states, never a torn write: the
/// writer always writes the two keys of a pair in one Txn, with the Txn's revision as value
/// (or deletes both); readers check both keys agree at every revision they read.
@Suite struct KVStoreReaderTests {
    final class Board: Sendable {
        let done = Atomic<Bool>(false)
        let failures = Mutex<[String]>([])
        let reads = Atomic<Int>(0)

        func fail(_ message: String) { failures.withLock { if $0.count < 20 { $0.append(message) } } }
    }

    static let pair = (a: Array("pair/a".utf8), b: Array("pair/b".utf8))

    @Test func readersSeeWholeWritesOnly() throws {
        let seed = KeelSeed.value()
        print("KVStoreReaderTests seed \(seed) (replay with KEEL_SEED=\(seed))")
        var options = KVStoreOptions()
        options.commitRowsMax = 7 // many commits, each trimming the overlay under the readers
        options.compactionKeysPerStep = 1
        options.compactionRowsPerStep = 3
        let fixture = try StoreFixture(options: options)
        let store = fixture.store
        let board = Board()
        let readers = (0..<2).map { index in
            OSThread(name: "kvstore-reader-\(index)") { Self.read(store, board, seed: seed &+ UInt64(index) &+ 1) }
        }
        var random = SeededGenerator(seed: seed)
        for _ in 0..<1500 {
            let next = Array(String(store.currentRevision + 1).utf8)
            let request: TxnRequest
            if Int.random(in: 0..<10, using: &random) == 0 {
                request = TxnRequest(success: [.deleteRange(DeleteRangeRequest(key: Array("pair/".utf8), rangeEnd: Array("pair0".utf8)))])
            } else {
                request = TxnRequest(success: [.put(PutRequest(key: Self.pair.a, value: next)), .put(PutRequest(key: Self.pair.b, value: next))])
            }
            _ = try store.txn(request, applying: fixture.next())
            let roll = Int.random(in: 0..<100, using: &random)
            if roll < 3 {
                _ = try store.compact(max(1, store.currentRevision - Int64.random(in: 0...20, using: &random)), applying: fixture.next())
            } else if roll < 5 {
                try store.flush()
            }
            try store.compactStep()
        }
        board.done.store(true, ordering: .releasing)
        for reader in readers { reader.join() }
        let failures = board.failures.withLock { $0 }
        print("KVStoreReaderTests seed \(seed): \(board.reads.load(ordering: .relaxed)) reads, revision \(store.currentRevision)")
        #expect(failures.isEmpty, "seed \(seed): \(failures.joined(separator: "\n"))")
        #expect(board.reads.load(ordering: .relaxed) > 0)
    }

    private static func read(_ store: KVStore, _ board: Board, seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var lastCurrent: Int64 = 0
        while !board.done.load(ordering: .acquiring) {
            let current = store.currentRevision
            if current < lastCurrent { board.fail("current revision went back from \(lastCurrent) to \(current)") }
            lastCurrent = current
            // The compact revision may have passed `current` since it was read.
            let lowest = max(1, min(store.compactRevision, current))
            let revision = current == 0 || Bool.random(using: &random) ? 0 : Int64.random(in: lowest...max(1, current), using: &random)
            let result = store.range(RangeRequest(key: Array("pair/".utf8), rangeEnd: Array("pair0".utf8), revision: revision))
            board.reads.add(1, ordering: .relaxed)
            switch result {
            case .failure(.compacted):
                continue // a compaction passed the revision meanwhile
            case .failure(let refusal):
                board.fail("range at \(revision): \(refusal)")
            case .success(let response):
                check(response, revision, board)
            }
        }
    }

    private static func check(_ response: RangeResponse, _ revision: Int64, _ board: Board) {
        let kvs = response.kvs
        if kvs.count == 1 || kvs.count > 2 {
            board.fail("range at \(revision) saw \(kvs.count) keys of a pair")
            return
        }
        guard kvs.count == 2 else { return }
        if kvs[0].key != pair.a || kvs[1].key != pair.b || kvs[0].value != kvs[1].value || kvs[0].modRevision != kvs[1].modRevision {
            board.fail("range at \(revision) saw a torn pair: \(kvs)")
        }
        if String(decoding: kvs[0].value, as: UTF8.self) != String(kvs[0].modRevision) {
            board.fail("range at \(revision): value \(kvs[0].value) written at revision \(kvs[0].modRevision)")
        }
        if revision > 0 && kvs[0].modRevision > revision {
            board.fail("range at \(revision) saw a write of revision \(kvs[0].modRevision)")
        }
    }
}

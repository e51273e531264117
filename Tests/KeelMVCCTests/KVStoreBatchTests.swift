import Testing
@testable import KeelMVCC

/// Apply batches: the writes between `beginBatch()` and `endBatch()` are published together, and
/// the index nodes the batch changes in place never show through the view published before it.
@Suite struct KVStoreBatchTests {
    static func key(_ n: Int) -> String { "k\((n &* 7919) % 1000)/\(n)" }

    /// Every key of the published view with its value, in key order.
    static func everything(_ fixture: StoreFixture) -> [String: String] {
        guard case .success(let response) = fixture.store.range(RangeRequest(key: [0], rangeEnd: [0])) else { return [:] }
        var result: [String: String] = [:]
        for kv in response.kvs { result[String(decoding: kv.key, as: UTF8.self)] = String(decoding: kv.value, as: UTF8.self) }
        return result
    }

    @Test func aBatchIsPublishedWholeAtItsEnd() throws {
        var options = KVStoreOptions()
        options.commitRowsMax = 7 // B+tree commits inside the batch, trimming the overlay
        let fixture = try StoreFixture(options: options)
        var model: [String: String] = [:]
        for n in 0..<300 { // enough keys for internal nodes: the batch copies whole paths
            try fixture.put(Self.key(n), "v\(n)")
            model[Self.key(n)] = "v\(n)"
        }
        let before = model
        let revisionBefore = fixture.store.currentRevision

        fixture.store.beginBatch()
        for n in 0..<600 {
            switch n % 3 {
            case 0: // new keys
                try fixture.put(Self.key(300 + n), "new\(n)")
                model[Self.key(300 + n)] = "new\(n)"
            case 1: // overwrite
                try fixture.put(Self.key(n / 2), "over\(n)")
                model[Self.key(n / 2)] = "over\(n)"
            default:
                let key = Self.key(n / 3 + 100)
                _ = try fixture.store.deleteRange(DeleteRangeRequest(key: bytes(key)), applying: fixture.next())
                model[key] = nil
            }
            if n % 50 == 0 {
                #expect(fixture.store.currentRevision == revisionBefore)
                #expect(Self.everything(fixture) == before, "a read inside the batch saw part of it (write \(n))")
            }
        }
        #expect(Self.everything(fixture) == before)
        fixture.store.endBatch()
        #expect(fixture.store.currentRevision > revisionBefore)
        #expect(Self.everything(fixture) == model)
        fixture.store.builder.checkStructure()
    }

    @Test func aFlushInsideABatchPublishesItsWritesSoFar() throws {
        let fixture = try StoreFixture()
        try fixture.put("a", "1")
        fixture.store.beginBatch()
        try fixture.put("b", "2")
        #expect(fixture.get("b") == nil)
        try fixture.store.flush()
        #expect(fixture.get("b")?.value == bytes("2"))
        try fixture.put("c", "3")
        #expect(fixture.get("c") == nil)
        fixture.store.endBatch()
        #expect(fixture.get("c")?.value == bytes("3"))
        // An empty batch publishes nothing new and ends cleanly.
        fixture.store.beginBatch()
        fixture.store.endBatch()
        #expect(fixture.store.currentRevision == 4)
    }
}

@testable import KeelStorage
import KeelTestSupport
import Testing

/// `BranchImage` edits against a model (the list of separators and child pages): children
/// that moved, whose first key changed, that split into several pieces or that emptied, until
/// the page is full; a refused edit must leave the page as it was.
@Suite struct BranchImageTests {
    typealias Entry = (key: [UInt8], page: UInt64)

    static func randomKey(_ random: inout SeededGenerator) -> [UInt8] {
        (0..<Int.random(in: 1...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    static func entries(_ image: BranchImage) -> [Entry] {
        let view = image.view
        return (0..<view.count).map { ([UInt8](view.key($0)), view.child($0).rawValue) }
    }

    static func same(_ a: [Entry], _ b: [Entry]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.page == $1.page }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func editsMatchAModel(seed: UInt64) {
        print("BranchImageTests seed \(seed)")
        var random = SeededGenerator(seed: seed)
        let arena = ByteArena()
        defer { arena.reset() }
        var model: [Entry] = (0..<20).map { _ in (Self.randomKey(&random), UInt64.random(in: 2...1_000_000, using: &random)) }
        // The page as commit encodes it, copied as a write transaction copies it.
        let node = Node(leaf: false)
        node.keys = model.map { arena.copy($0.key) }
        node.children = model.map { PageID($0.page) }
        let (run, bytes) = node.pieces(pageSize: Database.pageSize)[0]
        let base = arena.allocate(Database.pageSize, alignment: 64)
        Node.encode(node, run, bytes: bytes, page: PageID(7), pages: 1, pageSize: Database.pageSize,
                    into: UnsafeMutableRawBufferPointer(start: base, count: Database.pageSize))
        let image = BranchImage(base: base, bytes: Database.pageSize)
        var space = image.measure()
        var refused = 0, compactions = 0
        for step in 0..<2_000 where !model.isEmpty {
            let index = Int.random(in: 0..<model.count, using: &random)
            var pieces: [Entry] = (0..<Int.random(in: 0...3, using: &random)).map { _ in
                (Self.randomKey(&random), UInt64.random(in: 2...1_000_000, using: &random))
            }
            if !pieces.isEmpty && Bool.random(using: &random) { pieces[0].key = model[index].key }
            let lowerBefore = space.lower
            let edited = pieces.map { (key: arena.copy($0.key), page: PageID($0.page)) }
            if image.replace(at: index, with: edited, space: &space) {
                model.replaceSubrange(index...index, with: pieces)
            } else {
                refused += 1
            }
            if space.lower > lowerBefore { compactions += 1 }
            #expect(Self.same(Self.entries(image), model), "seed \(seed) step \(step)")
            let measured = image.measure()
            #expect(measured.live == space.live && measured.lower >= space.lower, "seed \(seed) step \(step): \(space) measured \(measured)")
            #expect(image.view.validate(expected: PageID(7)) == nil, "seed \(seed) step \(step)")
        }
        #expect(refused > 0 && compactions > 0, "seed \(seed): \(refused) refused, \(compactions) compactions")
    }
}

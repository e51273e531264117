/// Where each frame of a flame graph goes, in samples rather than pixels: the folded stacks
/// merged into one tree whose root is `all`, laid out depth-first with siblings in name order
/// (so the picture never depends on dictionary order). A frame spans the samples of every
/// stack that passes through it; its children sit above it, left to right.
struct FlameGraphLayout {
    struct Frame: Equatable {
        var name: String
        /// 0 for `all`, 1 for the stacks' root frames, and so on up to the leaves.
        var depth: Int
        /// Samples to the left of the frame on its row.
        var startSamples: Int
        var samples: Int
    }

    static let rootName = "all"

    /// Every frame, parents before their children.
    let frames: [Frame]
    let totalSamples: Int
    /// The deepest row (0 when there are no samples).
    let maxDepth: Int

    init(_ stacks: FlameGraphStacks) {
        var tree = [Node(name: Self.rootName)]
        for (frames, samples) in stacks.sortedStacks {
            tree[0].samples += samples
            var current = 0
            for name in frames {
                let child: Int
                if let existing = tree[current].children[name] {
                    child = existing
                } else {
                    child = tree.count
                    tree.append(Node(name: name))
                    tree[current].children[name] = child
                }
                tree[child].samples += samples
                current = child
            }
        }
        var laidOut: [Frame] = []
        Self.place(0, depth: 0, start: 0, tree, into: &laidOut)
        frames = laidOut
        totalSamples = tree[0].samples
        maxDepth = laidOut.map(\.depth).max() ?? 0
        precondition(laidOut.count == tree.count, "layout placed \(laidOut.count) of \(tree.count) frames")
    }

    private struct Node {
        var name: String
        var samples = 0
        var children: [String: Int] = [:]
    }

    // Recursion depth is the stack depth, which perf caps at 127 frames by default.
    private static func place(_ node: Int, depth: Int, start: Int, _ tree: [Node], into frames: inout [Frame]) {
        frames.append(Frame(name: tree[node].name, depth: depth, startSamples: start, samples: tree[node].samples))
        var childStart = start
        for name in tree[node].children.keys.sorted() {
            let child = tree[node].children[name]!
            place(child, depth: depth + 1, start: childStart, tree, into: &frames)
            childStart += tree[child].samples
        }
        precondition(childStart <= start + tree[node].samples, "children of \(tree[node].name) hold more samples than it")
    }
}

/// Folded call stacks: each distinct stack (frames root → leaf) with the number of samples
/// that ended in it. Built from `perf script` output or from already-folded text
/// (`frame;frame;frame 42` a line), the format flame graph tools share.
///
/// Frame names never contain `;` (it would split them when folded again): a `;` in a symbol
/// becomes `:`. Kernel frames carry the suffix `_[k]`, so the renderer can tell them apart
/// after folding; a frame perf could not name is `[unknown]`, or `[dso]` when perf knows
/// at least which object the address is in.
struct FlameGraphStacks: Equatable {
    /// Samples per stack, keyed by the folded stack text.
    private(set) var samplesByStack: [String: Int] = [:]

    var totalSamples: Int { samplesByStack.values.reduce(0, +) }

    /// Adds `samples` to the stack `frames` (root first). An empty stack is ignored.
    mutating func add(_ frames: [String], samples: Int = 1) {
        precondition(samples >= 0, "negative sample count \(samples)")
        guard !frames.isEmpty, samples > 0 else { return }
        let key = frames.map { $0.replacing(";", with: ":") }.joined(separator: ";")
        samplesByStack[key, default: 0] += samples
    }

    /// Every stack with its samples, sorted by stack text so output never depends on
    /// dictionary order.
    var sortedStacks: [(frames: [String], samples: Int)] {
        samplesByStack.keys.sorted().map { key in
            (key.split(separator: ";", omittingEmptySubsequences: false).map(String.init), samplesByStack[key]!)
        }
    }

    /// The folded text: one `root;...;leaf count` line per stack, sorted.
    var foldedText: String {
        sortedStacks.map { $0.frames.joined(separator: ";") + " " + String($0.samples) + "\n" }.joined()
    }

    /// Parses either format: `perf script` output (its frame lines are indented) or folded
    /// lines. `includeCommand` puts the sampled thread's name below each perf stack as its
    /// root frame, so threads (event loops, the raft loop) stay apart.
    static func parse(_ text: String, includeCommand: Bool = true) throws(FlameGraphInputError) -> FlameGraphStacks {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let isPerfScript = lines.contains { $0.first == "\t" || $0.first == " " }
        return isPerfScript ? parsePerfScript(lines, includeCommand: includeCommand) : try parseFolded(lines)
    }

    /// Folded text: `stack count` per line; blank lines and `#` comments are skipped.
    static func parseFolded(_ lines: [Substring]) throws(FlameGraphInputError) -> FlameGraphStacks {
        var stacks = FlameGraphStacks()
        for (number, line) in lines.enumerated() {
            let trimmed = line.trimmingSuffix(while: { $0 == " " || $0 == "\r" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let space = trimmed.lastIndex(of: " "),
                  let samples = Int(trimmed[trimmed.index(after: space)...]), samples >= 0 else {
                throw .malformedFoldedLine(number: number + 1, text: String(trimmed.prefix(200)))
            }
            let frames = trimmed[..<space].split(separator: ";", omittingEmptySubsequences: false).map(String.init)
            stacks.add(frames, samples: samples)
        }
        return stacks
    }

    /// `perf script` output: a sample is a header line (`comm pid [cpu] time: period event:`)
    /// then its frames, leaf first, one indented line each, then a blank line.
    static func parsePerfScript(_ lines: [Substring], includeCommand: Bool) -> FlameGraphStacks {
        var stacks = FlameGraphStacks()
        var command: String?
        var leafFirst: [String] = []
        func finishSample() {
            if let command {
                var frames = Array(leafFirst.reversed())
                if includeCommand || frames.isEmpty { frames.insert(command, at: 0) }
                stacks.add(frames)
            }
            command = nil
            leafFirst.removeAll(keepingCapacity: true)
        }
        for line in lines {
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) {
                finishSample()
            } else if line.first == "\t" || line.first == " " {
                if command != nil, let frame = FlameGraphPerfLine(line)?.frameName { leafFirst.append(frame) }
            } else if !line.hasPrefix("#") {
                finishSample()
                command = FlameGraphPerfLine.command(ofHeader: line)
            }
        }
        finishSample()
        return stacks
    }
}

/// Why flame graph input could not be read.
enum FlameGraphInputError: Error, CustomStringConvertible {
    case malformedFoldedLine(number: Int, text: String)

    var description: String {
        switch self {
        case .malformedFoldedLine(let number, let text):
            "line \(number) is neither perf script output nor a folded stack (`a;b;c 12`): \(text)"
        }
    }
}

extension Substring {
    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return self[..<end]
    }
}

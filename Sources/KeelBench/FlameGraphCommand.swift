import ArgumentParser
import Foundation

/// `keel-bench flamegraph`: folds `perf script` output (or folded stacks) and draws a flame
/// graph SVG; Perf/record drives it.
struct FlameGraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flamegraph",
        abstract: "Fold perf script output into stacks and render a flame graph SVG.",
        discussion: """
        Reads `perf script` output (pipe it through swift-demangle --simplified first for \
        readable Swift names) or already-folded stacks (`root;...;leaf count` a line) from \
        INPUT or stdin. Writes an SVG, or with --folded the folded stacks, to --out or stdout. \
        Kernel frames end in _[k]; frames perf could not name are [unknown] or [object].
        """
    )

    @Argument(help: "perf script output or folded stacks; stdin when absent or -.")
    var input: String?
    @Option(help: "Where to write; stdout when absent.")
    var out: String?
    @Flag(help: "Print the folded stacks instead of the SVG.")
    var folded = false
    @Option(help: "Title above the graph.")
    var title = "Flame graph"
    @Option(help: "Width of the SVG in pixels.")
    var width = 1200
    @Option(help: "Leave out frames narrower than this many pixels.")
    var minWidth = 0.1
    @Flag(help: "Do not put each sample's thread name below its stack.")
    var noThreadNames = false

    func validate() throws {
        guard width >= 100 && width <= 100_000 else { throw ValidationError("--width must be in 100...100000") }
        guard minWidth >= 0 else { throw ValidationError("--min-width must not be negative") }
    }

    func run() throws {
        let data: Data
        if let input, input != "-" {
            guard let contents = FileManager.default.contents(atPath: input) else {
                throw ValidationError("cannot read \(input)")
            }
            data = contents
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        let stacks: FlameGraphStacks
        do {
            stacks = try FlameGraphStacks.parse(String(decoding: data, as: UTF8.self), includeCommand: !noThreadNames)
        } catch {
            throw ValidationError("flamegraph: \(error)")
        }
        let output: String
        if folded {
            output = stacks.foldedText
        } else {
            guard stacks.totalSamples > 0 else { throw ValidationError("flamegraph: the input holds no samples") }
            let svg = FlameGraphSVG(title: title, widthPixels: width, minimumFramePixels: minWidth)
            output = svg.render(FlameGraphLayout(stacks))
        }
        if let out, out != "-" {
            guard FileManager.default.createFile(atPath: out, contents: Data(output.utf8)) else {
                throw ValidationError("cannot write \(out)")
            }
        } else {
            FileHandle.standardOutput.write(Data(output.utf8))
        }
    }
}

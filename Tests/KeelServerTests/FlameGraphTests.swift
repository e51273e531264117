#if canImport(Glibc)
import Glibc
#endif
import KeelTestSupport
import Testing

/// `keel-bench flamegraph` run as a process on a fixed `perf script` sample: the folding
/// (thread roots, kernel, unnamed and demangled frames) and the SVG (one group per frame,
/// widths in proportion to samples, XML escaping).
@Suite struct FlameGraphTests {
    /// Four samples, leaf first as perf prints them: three in thread `keel` (main→a→b twice,
    /// main→a→c once, in both header formats perf uses) and one in an event loop thread
    /// through an unnamed frame, a frame named only by its object, a demangled generic name
    /// holding XML's special characters, and a kernel frame.
    static let perfScript = """
        keel  1234 [000]  100.000001:     250000 cpu-clock:pppH: 
        \t    55d0 b+0x10 (/work/keel)
        \t    55c0 a+0x20 (/work/keel)
        \t    55b0 main+0x5 (/work/keel)

        keel  1234   100.000002:     250000 cpu-clock:pppH: 
        \t    55d1 b+0x11 (/work/keel)
        \t    55c1 a+0x21 (/work/keel)
        \t    55b0 main+0x5 (/work/keel)

        keel  1234 [001]  100.000003:     250000 cpu-clock:pppH: 
        \t    55e0 c+0x1 (/work/keel)
        \t    55c2 a+0x22 (/work/keel)
        \t    55b0 main+0x5 (/work/keel)

        NIO-ELT-0-#0  1240/1241 [001]  100.000004:     250000 cpu-clock:pppH: 
        \tffffffff821f2fa7 exc_page_fault+0xd7 ([kernel.kallsyms])
        \t    6000 closure #1 (Swift.Int) -> () in Array<Int>.append(_:) & <copy>+0x1d (/work/keel)
        \t    7000 [unknown] (/usr/lib/libfoo.so.1)
        \t    1040000000 [unknown] ([unknown])

        """

    static let folded = """
        NIO-ELT-0-#0;[unknown];[libfoo.so.1];closure #1 (Swift.Int) -> () in Array<Int>.append(_:) & <copy>;exc_page_fault_[k] 1
        keel;main;a;b 2
        keel;main;a;c 1

        """

    static func flamegraph(_ arguments: [String], input: String) -> Subprocess.Outcome {
        Subprocess.run(benchPath, ["flamegraph"] + arguments, environment: ["PATH=/usr/bin:/bin"], input: input)
    }

    static var benchPath: String { KeelProcess.builtBinary("keel-bench") }

    @Test func foldsPerfScriptRootFirstWithThreadNames() {
        let outcome = Self.flamegraph(["--folded"], input: Self.perfScript)
        #expect(outcome.exitStatus == 0)
        #expect(outcome.output == Self.folded)
    }

    @Test func leavesThreadNamesOutOnRequest() {
        let outcome = Self.flamegraph(["--folded", "--no-thread-names"], input: Self.perfScript)
        #expect(outcome.exitStatus == 0)
        #expect(outcome.output.hasSuffix("main;a;b 2\nmain;a;c 1\n"))
        #expect(outcome.output.hasPrefix("[unknown];[libfoo.so.1];"))
    }

    @Test func foldedInputFoldsAgainToItself() {
        let outcome = Self.flamegraph(["--folded"], input: Self.folded)
        #expect(outcome.exitStatus == 0)
        #expect(outcome.output == Self.folded)
    }

    @Test func rendersOneFrameEachWithWidthsInProportion() throws {
        let outcome = Self.flamegraph(["--width", "1020", "--title", "write path <1 & 2>"], input: Self.perfScript)
        #expect(outcome.exitStatus == 0)
        let frames = SVGFrames(outcome.output)
        // all, 2 threads, main, a, b, c, and the 4 frames of the event loop's stack.
        #expect(frames.widths.count == 11)
        // 1000 px for 4 samples (1020 minus 10 px each side).
        #expect(frames.widths["all"] == 1000)
        #expect(frames.widths["keel"] == 750)
        #expect(frames.widths["b"] == 500)
        #expect(frames.widths["c"] == 250)
        #expect(frames.widths["exc_page_fault_[k]"] == 250)
        #expect(frames.tooltips.contains("b (2 samples, 50.00%)"))
        #expect(outcome.output.contains("<svg ") && outcome.output.hasSuffix("</svg>\n"))
    }

    @Test func escapesNamesAndTitle() {
        let outcome = Self.flamegraph(["--title", "write path <1 & 2>"], input: Self.perfScript)
        #expect(outcome.output.contains("write path &lt;1 &amp; 2&gt;"))
        #expect(outcome.output.contains("Array&lt;Int&gt;.append(_:) &amp; &lt;copy&gt;"))
        #expect(!outcome.output.contains("<copy>"))
        #expect(!outcome.output.contains("<1 & 2>"))
    }

    @Test func sameGraphFromFoldedAndFromPerfScript() {
        let fromScript = Self.flamegraph([], input: Self.perfScript)
        let fromFolded = Self.flamegraph([], input: Self.folded)
        #expect(fromScript.exitStatus == 0)
        #expect(fromScript.output == fromFolded.output)
    }

    @Test func refusesMalformedAndEmptyInput() {
        let malformed = Self.flamegraph([], input: "a;b;c twelve\n")
        #expect(malformed.exitStatus != 0)
        #expect(malformed.output.contains("line 1"))
        let empty = Self.flamegraph([], input: "")
        #expect(empty.exitStatus != 0)
        #expect(empty.output.contains("no samples"))
    }
}

/// The frames of a rendered flame graph: each `<g class="f">` group's name (from its
/// tooltip) and rectangle width.
private struct SVGFrames {
    var widths: [String: Double] = [:]
    var tooltips: [String] = []

    init(_ svg: String) {
        for group in svg.split(separator: "<g class=\"f\">").dropFirst() {
            guard let title = Self.between(group, "<title>", "</title>"),
                  let width = Self.between(group, "width=\"", "\"").flatMap(Double.init) else { continue }
            tooltips.append(title)
            // "name (N samples, P%)": the name is everything before the last " (".
            let name = title.ranges(of: " (").last.map { String(title[..<$0.lowerBound]) } ?? title
            widths[name] = width
        }
    }

    private static func between(_ text: Substring, _ start: String, _ end: String) -> String? {
        guard let open = text.firstRange(of: start), let close = text[open.upperBound...].firstRange(of: end) else { return nil }
        return String(text[open.upperBound..<close.lowerBound])
    }
}

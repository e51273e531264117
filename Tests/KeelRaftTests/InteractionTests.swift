import Foundation
import Testing

/// Golden-script tests: each file in `testdata/` holds commands, each followed by `----` and
/// the output it must produce. Run with `KEEL_REWRITE_GOLDEN=1` to write the actual output
/// back into the files (then review the diff).
@Suite struct InteractionTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata")

    static var scripts: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".txt") }.sorted()
    }

    @Test(arguments: scripts)
    func script(_ name: String) throws {
        let path = Self.directory.appendingPathComponent(name).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var interaction = Interaction()
        var rewritten: [String] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)[...]
        while let line = lines.popFirst() {
            if line.isEmpty || line.hasPrefix("#") {
                rewritten.append(line)
                continue
            }
            let command = line
            #expect(lines.popFirst() == "----", "\(name): expected ---- after \(command)")
            var expected: [String] = []
            while let next = lines.first, !next.isEmpty {
                expected.append(next)
                lines.removeFirst()
            }
            let actual = interaction.run(command)
            #expect(actual == expected.joined(separator: "\n"), "\(name): \(command)")
            rewritten += [command, "----", actual]
        }
        if ProcessInfo.processInfo.environment["KEEL_REWRITE_GOLDEN"] == "1" {
            try rewritten.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}

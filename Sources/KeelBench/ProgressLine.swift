/// The status line on stderr while a benchmark runs. On a terminal it is rewritten in place
/// (carriage return, erase line); otherwise, as in CI logs, only each configuration's
/// closing line is written, one per line.
struct ProgressLine {
    let isTerminal = BenchSystem.standardErrorIsTerminal
    /// How often a running phase refreshes the line.
    static let refreshNanoseconds: UInt64 = 250_000_000

    /// Shows `text` as the current state; nothing when stderr is not a terminal.
    func update(_ text: String) {
        if isTerminal { BenchSystem.writeStandardError("\r\u{1B}[K" + text) }
    }

    /// Shows the result of one configuration.
    func finish(_ text: String) {
        if isTerminal {
            BenchSystem.writeStandardError("\r\u{1B}[K" + text)
        } else {
            BenchSystem.writeStandardError(text + "\n")
        }
    }

    /// A message that must stay visible (a skipped backend, a warning).
    func note(_ text: String) {
        BenchSystem.writeStandardError((isTerminal ? "\r\u{1B}[K" : "") + text + "\n")
    }

    /// Erases the line before the report goes to stdout.
    func clear() {
        if isTerminal { BenchSystem.writeStandardError("\r\u{1B}[K") }
    }
}

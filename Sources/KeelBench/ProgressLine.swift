/// The status line on stderr while a benchmark runs. On a terminal it is rewritten in place
/// (carriage return, erase line); otherwise, as in CI logs, only each configuration's
/// closing line is written, one per line.
struct ProgressLine {
    let isTerminal = BenchSystem.standardErrorIsTerminal
    /// How often a running phase refreshes the line.
    static let refreshNanoseconds: UInt64 = 250_000_000
    static let barWidth = 30

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

    /// `[#####-----]`: `fraction` (clamped to 0...1) of `width` cells filled.
    static func bar(fraction: Double, width: Int = barWidth) -> String {
        let filled = Int((min(max(fraction.isFinite ? fraction : 0, 0), 1) * Double(width)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
    }

    /// The line of a running network workload: a bar over completed/total requests or
    /// elapsed/duration seconds, then the rate since the last refresh.
    static func running(label: String, stop: NetworkStop, completed: Int, elapsedNanoseconds: UInt64,
                        ratePerSecond: Double) -> String {
        let rate = Format.grouped(UInt64(max(ratePerSecond, 0))) + "/s"
        switch stop {
        case .total(let total):
            return "\(label) \(bar(fraction: Double(completed) / Double(total))) "
                + "\(Format.grouped(UInt64(completed)))/\(Format.grouped(UInt64(total))) \(rate)"
        case .after(let nanoseconds):
            let elapsed = Double(elapsedNanoseconds) / 1e9, duration = Double(nanoseconds) / 1e9
            return "\(label) \(bar(fraction: elapsed / duration)) "
                + "\(Format.fixed(elapsed, decimals: 1))/\(Format.fixed(duration, decimals: 1)) s \(rate)"
        }
    }
}

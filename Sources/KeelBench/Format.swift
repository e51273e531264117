/// Number formatting without Foundation.
enum Format {
    /// `value` rounded to `decimals` digits after the point ("12.34", "-0.50", "7").
    static func fixed(_ value: Double, decimals: Int) -> String {
        precondition(value.isFinite && decimals >= 0 && decimals <= 9)
        var scale: Double = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9.0e18 else { return String(value) }
        let units = UInt64(scaled)
        let whole = units / UInt64(scale)
        var text = (value < 0 && units != 0 ? "-" : "") + String(whole)
        if decimals > 0 {
            let fraction = String(units % UInt64(scale))
            text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
        }
        return text
    }

    /// An integer with thousands separators ("1,234,567"), for tables read by people.
    static func grouped(_ value: UInt64) -> String {
        let digits = Array(String(value))
        var text = ""
        for (i, digit) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { text += "," }
            text.append(digit)
        }
        return text
    }

    /// The lines that end a report table: the load average around the run, the notes and
    /// the failures.
    static func footer(loadAverageBefore: Double?, loadAverageAfter: Double?, notes: [String], failures: [String]) -> [String] {
        var lines: [String] = []
        if let before = loadAverageBefore, let after = loadAverageAfter {
            lines.append("load average \(fixed(before, decimals: 2)) before, \(fixed(after, decimals: 2)) after")
        }
        return lines + notes.map { "note: " + $0 } + failures.map { "FAILED: " + $0 }
    }
}

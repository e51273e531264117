import Foundation

/// A line plot as inline SVG text: two axes with ticks and grid lines, one polyline per
/// series, a legend. No scripts, fonts or links: the page that embeds it works offline.
struct SVGPlot {
    enum Scale: Sendable { case linear, log10 }

    struct Axis {
        var title: String
        var scale: Scale
        var lower: Double
        var upper: Double
        var ticks: [(value: Double, label: String)]

        /// Where `value` falls between `lower` (0) and `upper` (1); values outside clamp to
        /// the ends, and on a log axis a value ≤ 0 sits at the lower end.
        func fraction(_ value: Double) -> Double {
            let position: Double
            switch scale {
            case .linear:
                position = upper > lower ? (value - lower) / (upper - lower) : 0
            case .log10:
                guard value > 0, lower > 0, upper > lower else { return 0 }
                position = (Foundation.log10(value) - Foundation.log10(lower)) / (Foundation.log10(upper) - Foundation.log10(lower))
            }
            return min(max(position, 0), 1)
        }
    }

    struct Series {
        var name: String
        var color: String
        var points: [(x: Double, y: Double)]
    }

    var title: String
    var x: Axis
    var y: Axis
    var series: [Series]
    var width = 720.0
    var height = 300.0
    static let margin = (left: 70.0, right: 20.0, top: 30.0, bottom: 45.0)

    /// Pixel coordinates of a data point inside the plot area (y grows downwards in SVG).
    func pixel(_ point: (x: Double, y: Double)) -> (x: Double, y: Double) {
        let m = Self.margin
        let plotWidth = width - m.left - m.right, plotHeight = height - m.top - m.bottom
        return (m.left + x.fraction(point.x) * plotWidth, m.top + (1 - y.fraction(point.y)) * plotHeight)
    }

    var rendered: String {
        let m = Self.margin
        // No xmlns: inside an HTML page the parser puts <svg> in the SVG namespace itself.
        var svg = "<svg viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" "
            + "height=\"\(n(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        svg += "<text x=\"\(n(width / 2))\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">\(XMLText.escaped(title))</text>\n"
        for tick in x.ticks {
            let at = pixel((tick.value, y.lower)).x
            svg += line(at, m.top, at, height - m.bottom, color: "#ddd")
            svg += "<text x=\"\(n(at))\" y=\"\(n(height - m.bottom + 14))\" text-anchor=\"middle\">\(XMLText.escaped(tick.label))</text>\n"
        }
        for tick in y.ticks {
            let at = pixel((x.lower, tick.value)).y
            svg += line(m.left, at, width - m.right, at, color: "#ddd")
            svg += "<text x=\"\(n(m.left - 6))\" y=\"\(n(at + 4))\" text-anchor=\"end\">\(XMLText.escaped(tick.label))</text>\n"
        }
        svg += line(m.left, height - m.bottom, width - m.right, height - m.bottom, color: "#333")
        svg += line(m.left, m.top, m.left, height - m.bottom, color: "#333")
        svg += "<text x=\"\(n(m.left + (width - m.left - m.right) / 2))\" y=\"\(n(height - 8))\" text-anchor=\"middle\">"
            + XMLText.escaped(x.title) + "</text>\n"
        svg += "<text transform=\"translate(14 \(n(m.top + (height - m.top - m.bottom) / 2))) rotate(-90)\" "
            + "text-anchor=\"middle\">\(XMLText.escaped(y.title))</text>\n"
        for (index, one) in series.enumerated() {
            let points = one.points.map { pixel($0) }.map { "\(n($0.x)),\(n($0.y))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(one.color)\" stroke-width=\"1.5\" points=\"\(points)\"/>\n"
            if series.count > 1 {
                let top = m.top + 4 + Double(index) * 14
                svg += line(width - m.right - 110, top + 4, width - m.right - 94, top + 4, color: one.color)
                svg += "<text x=\"\(n(width - m.right - 90))\" y=\"\(n(top + 8))\">\(XMLText.escaped(one.name))</text>\n"
            }
        }
        return svg + "</svg>"
    }

    private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: String) -> String {
        "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\" stroke=\"\(color)\"/>\n"
    }

    private func n(_ value: Double) -> String { Format.fixed(value, decimals: 1) }

    /// The step between about `count` ticks over `lower...upper`: 1, 2 or 5 times a power of
    /// ten, the smallest such step that makes at most `count` intervals.
    static func tickStep(lower: Double, upper: Double, count: Int) -> Double {
        precondition(count >= 1)
        let span = upper - lower
        guard span > 0 && span.isFinite else { return 1 }
        let raw = span / Double(count)
        let magnitude = pow(10, (Foundation.log10(raw)).rounded(.down))
        for multiple in [1.0, 2, 5, 10] where multiple * magnitude >= raw * (1 - 1e-9) { return multiple * magnitude }
        return 10 * magnitude
    }

    /// Ticks at multiples of `tickStep` within `lower...upper`.
    static func linearTicks(lower: Double, upper: Double, count: Int) -> [Double] {
        let step = tickStep(lower: lower, upper: upper, count: count)
        var ticks: [Double] = []
        var value = (lower / step).rounded(.up) * step
        while value <= upper + step * 1e-9 {
            ticks.append(abs(value) < step * 1e-9 ? 0 : value)
            value += step
        }
        return ticks
    }

    /// The smallest multiple of the tick step at or above `value`, so a plot's top sits on a
    /// grid line; 1 for an empty or zero range.
    static func niceUpper(_ value: Double, count: Int = 5) -> Double {
        guard value > 0 && value.isFinite else { return 1 }
        let step = tickStep(lower: 0, upper: value, count: count)
        return (value / step - 1e-9).rounded(.up) * step
    }

    /// A tick label: grouped digits for whole numbers, otherwise as few decimals as the step needs.
    static func label(_ value: Double, step: Double) -> String {
        if step >= 1 || value == value.rounded() {
            return value >= 0 ? Format.grouped(UInt64(value.rounded())) : "-" + Format.grouped(UInt64((-value).rounded()))
        }
        let decimals = min(max(Int((-Foundation.log10(step)).rounded(.up)), 1), 6)
        return Format.fixed(value, decimals: decimals)
    }

    /// A linear axis from 0 to a nice value at or above `maximum`, with about five ticks.
    static func linearAxis(title: String, maximum: Double) -> Axis {
        let upper = niceUpper(maximum)
        let step = tickStep(lower: 0, upper: upper, count: 5)
        return Axis(title: title, scale: .linear, lower: 0, upper: upper,
                    ticks: linearTicks(lower: 0, upper: upper, count: 5).map { ($0, label($0, step: step)) })
    }
}

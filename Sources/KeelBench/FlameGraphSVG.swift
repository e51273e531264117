/// Renders a `FlameGraphLayout` as one self-contained SVG: a rectangle per frame, as wide as
/// its share of the samples, the root at the bottom; the name inside when it fits (clipped
/// with `..` otherwise); a `<title>` tooltip with name, samples and percent; colours from a
/// hash of the name (warm for user code, blue for kernel frames, grey for unnamed ones); and
/// a few lines of script that show the hovered frame's details under the graph. No network,
/// no external files.
struct FlameGraphSVG {
    var title = "Flame graph"
    var widthPixels = 1200
    /// Frames narrower than this are left out (with everything above them), as they could
    /// not be seen or hovered anyway.
    var minimumFramePixels = 0.1

    static let frameHeightPixels = 16
    static let fontSizePixels = 12.0
    static let sidePaddingPixels = 10
    static let topPaddingPixels = 36
    static let bottomPaddingPixels = 28
    /// The average width of a character of the 12 px sans-serif font, used to clip names.
    static let characterWidthPixels = 7.0

    func render(_ layout: FlameGraphLayout) -> String {
        precondition(layout.totalSamples > 0, "nothing to draw: no samples")
        let height = Self.topPaddingPixels + (layout.maxDepth + 1) * Self.frameHeightPixels + Self.bottomPaddingPixels
        let pixelsPerSample = Double(widthPixels - 2 * Self.sidePaddingPixels) / Double(layout.totalSamples)
        var svg = header(height: height)
        for frame in layout.frames {
            let width = Double(frame.samples) * pixelsPerSample
            if width < minimumFramePixels { continue }
            let x = Double(Self.sidePaddingPixels) + Double(frame.startSamples) * pixelsPerSample
            let y = height - Self.bottomPaddingPixels - (frame.depth + 1) * Self.frameHeightPixels
            svg += element(frame, x: x, y: y, width: width, total: layout.totalSamples)
        }
        svg += "<text id=\"details\" x=\"\(Self.sidePaddingPixels)\" y=\"\(height - 10)\"> </text>\n</svg>\n"
        return svg
    }

    private func header(height: Int) -> String {
        """
        <?xml version="1.0" standalone="no"?>
        <svg version="1.1" width="\(widthPixels)" height="\(height)" viewBox="0 0 \(widthPixels) \(height)" \
        xmlns="http://www.w3.org/2000/svg">
        <style>
        text { font-family: Verdana, sans-serif; font-size: \(Int(Self.fontSizePixels))px; fill: #000; }
        #title { font-size: 17px; text-anchor: middle; }
        g.f:hover rect { stroke: #000; stroke-width: 0.5; cursor: pointer; }
        g.f text { pointer-events: none; }
        </style>
        <script><![CDATA[
        document.addEventListener('mouseover', function (event) {
          var frame = event.target.closest ? event.target.closest('g.f') : null;
          if (frame) document.getElementById('details').textContent = frame.querySelector('title').textContent;
        });
        ]]></script>
        <rect x="0" y="0" width="100%" height="100%" fill="#f8f8f0"/>
        <text id="title" x="\(widthPixels / 2)" y="24">\(XMLText.escaped(title))</text>

        """
    }

    private func element(_ frame: FlameGraphLayout.Frame, x: Double, y: Int, width: Double, total: Int) -> String {
        let percent = Double(frame.samples) * 100 / Double(total)
        let tooltip = "\(frame.name) (\(frame.samples) samples, \(Format.fixed(percent, decimals: 2))%)"
        var text = "<g class=\"f\"><title>\(XMLText.escaped(tooltip))</title>"
        text += "<rect x=\"\(Format.fixed(x, decimals: 2))\" y=\"\(y)\" width=\"\(Format.fixed(width, decimals: 2))\" "
        text += "height=\"\(Self.frameHeightPixels - 1)\" fill=\"\(Self.colour(of: frame.name))\" rx=\"2\"/>"
        if let label = Self.label(frame.name, widthPixels: width) {
            text += "<text x=\"\(Format.fixed(x + 3, decimals: 2))\" y=\"\(y + Self.frameHeightPixels - 4)\">\(XMLText.escaped(label))</text>"
        }
        return text + "</g>\n"
    }

    /// The name as it fits in `widthPixels`: whole, clipped with `..`, or nil when not even
    /// three characters fit.
    static func label(_ name: String, widthPixels: Double) -> String? {
        let fitting = Int((widthPixels - 6) / characterWidthPixels)
        if fitting < 3 { return nil }
        if name.count <= fitting { return name }
        return String(name.prefix(fitting - 2)) + ".."
    }

    /// A colour chosen by a hash of the name, so a function keeps its colour across graphs.
    static func colour(of name: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let first = Int(hash & 0xff), second = Int((hash >> 8) & 0xff), third = Int((hash >> 16) & 0xff)
        if name.hasSuffix("_[k]") {
            return "rgb(\(60 + first % 60),\(140 + second % 70),\(200 + third % 55))"
        }
        if name.hasPrefix("[") && name.hasSuffix("]") {
            return "rgb(\(170 + first % 40),\(170 + first % 40),\(170 + first % 40))"
        }
        return "rgb(\(205 + first % 50),\(second * 230 / 255),\(third % 55))"
    }
}

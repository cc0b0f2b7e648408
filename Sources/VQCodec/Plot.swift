import Foundation
import VQImage

/// A rate-distortion chart (bits per pixel against PSNR) drawn into an RGB `Image`: axes with numbered ticks,
/// one coloured polyline with point markers per series, and a legend. No plotting library needed.
public struct RateDistortionPlot {
    public struct Series: Sendable {
        public var name: String
        /// (bits per pixel, PSNR in dB), drawn in this order.
        public var points: [(bpp: Double, psnr: Double)]
        public init(name: String, points: [(bpp: Double, psnr: Double)]) {
            self.name = name
            self.points = points
        }
    }

    public var series: [Series]
    public var title: String
    public var width = 720
    public var height = 480

    public init(series: [Series], title: String) {
        self.series = series
        self.title = title
    }

    static let palette: [(UInt8, UInt8, UInt8)] = [
        (214, 39, 40), (31, 119, 180), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75), (227, 119, 194),
    ]

    public func render() -> Image {
        var canvas = Canvas(width: width, height: height)
        let (left, right, top, bottom) = (70, width - 20, 40, height - 50)
        let finite = series.flatMap { $0.points }.filter { $0.psnr.isFinite && $0.bpp.isFinite }
        let xMax = niceCeiling(max(finite.map(\.bpp).max() ?? 1, 1e-3))
        let (yMin, yMax) = (finite.map(\.psnr).min() ?? 10, finite.map(\.psnr).max() ?? 40)
        let yStep = [1.0, 2, 5, 10, 20].first { $0 * 5 >= yMax - yMin } ?? 50
        let yLow = floor(yMin / yStep) * yStep
        let yTicks = max(1, Int(ceil((yMax - yLow) / yStep)))
        let yHigh = yLow + Double(yTicks) * yStep
        func px(_ bpp: Double) -> Int { left + Int((bpp / xMax) * Double(right - left)) }
        func py(_ psnr: Double) -> Int { bottom - Int((psnr - yLow) / (yHigh - yLow) * Double(bottom - top)) }

        canvas.text(title, x: left, y: 6, scale: 2, colour: (0, 0, 0))
        // Grid, axes, ticks.
        for i in 0...5 {
            let x = left + (right - left) * i / 5
            canvas.line(x, top, x, bottom, colour: (230, 230, 230))
            let xLabel = format(xMax * Double(i) / 5)
            canvas.text(xLabel, x: x - xLabel.count * 4, y: bottom + 8, scale: 2, colour: (0, 0, 0))
        }
        for i in 0...yTicks {
            let y = bottom - (bottom - top) * i / yTicks
            canvas.line(left, y, right, y, colour: (230, 230, 230))
            let yLabel = format(yLow + yStep * Double(i))
            canvas.text(yLabel, x: left - 8 - yLabel.count * 8, y: y - 5, scale: 2, colour: (0, 0, 0))
        }
        canvas.line(left, bottom, right, bottom, colour: (0, 0, 0))
        canvas.line(left, top, left, bottom, colour: (0, 0, 0))
        canvas.text("BITS PER PIXEL", x: (left + right) / 2 - 56, y: bottom + 30, scale: 2, colour: (0, 0, 0))
        canvas.text("PSNR DB", x: 4, y: top - 18, scale: 2, colour: (0, 0, 0))

        for (i, s) in series.enumerated() {
            let colour = RateDistortionPlot.palette[i % RateDistortionPlot.palette.count]
            let points = s.points.filter { $0.psnr.isFinite }.map { (px($0.bpp), py(min(max($0.psnr, yLow), yHigh))) }
            for (a, b) in zip(points, points.dropFirst()) {
                canvas.line(a.0, a.1, b.0, b.1, colour: colour)
                canvas.line(a.0, a.1 + 1, b.0, b.1 + 1, colour: colour)
            }
            for p in points { canvas.fill(x: p.0 - 3, y: p.1 - 3, width: 7, height: 7, colour: colour) }
            // Legend, bottom right, one row per series.
            let ly = bottom - 16 - (series.count - 1 - i) * 16
            canvas.fill(x: right - 170, y: ly + 2, width: 14, height: 6, colour: colour)
            canvas.text(s.name, x: right - 150, y: ly, scale: 2, colour: colour)
        }
        return canvas.image
    }

    private func niceCeiling(_ v: Double) -> Double {
        let magnitude = pow(10, floor(log10(v)))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= v { return step * magnitude }
        return 10 * magnitude
    }

    private func format(_ v: Double) -> String {
        if v == v.rounded() { return String(Int(v)) }
        return String(format: v < 1 ? "%.2f" : "%.1f", v)
    }
}

/// An RGB drawing surface with lines, rectangles and a 3x5 pixel font.
struct Canvas {
    let width: Int
    let height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 255, count: width * height * 3)
    }

    var image: Image { Image(width: width, height: height, channels: 3, pixels: pixels) }

    mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.0
        pixels[i + 1] = c.1
        pixels[i + 2] = c.2
    }

    mutating func fill(x: Int, y: Int, width w: Int, height h: Int, colour: (UInt8, UInt8, UInt8)) {
        for yy in y..<(y + h) { for xx in x..<(x + w) { set(xx, yy, colour) } }
    }

    /// Bresenham's line.
    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, colour: (UInt8, UInt8, UInt8)) {
        var (x, y) = (x0, y0)
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            set(x, y, colour)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    mutating func text(_ string: String, x: Int, y: Int, scale: Int, colour: (UInt8, UInt8, UInt8)) {
        var cx = x
        for ch in string.uppercased() {
            let rows = Canvas.font[ch] ?? Canvas.font["?"]!
            for (r, bits) in rows.enumerated() {
                for c in 0..<3 where bits & (4 >> UInt8(c)) != 0 {
                    fill(x: cx + c * scale, y: y + r * scale, width: scale, height: scale, colour: colour)
                }
            }
            cx += 4 * scale
        }
    }

    /// 3x5 glyphs, one row per entry, bit 4 = left column.
    static let font: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
        "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [3, 4, 4, 4, 3], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7],
        "F": [7, 4, 6, 4, 4], "G": [3, 4, 5, 5, 3], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 2],
        "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7], "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [2, 5, 5, 5, 2],
        "P": [6, 5, 6, 4, 4], "Q": [2, 5, 5, 6, 3], "R": [6, 5, 6, 5, 5], "S": [3, 4, 2, 1, 6], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5], "Y": [5, 5, 2, 2, 2],
        "Z": [7, 1, 2, 4, 7], " ": [0, 0, 0, 0, 0], ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], "(": [1, 2, 2, 2, 1],
        ")": [4, 2, 2, 2, 4], "/": [1, 1, 2, 4, 4], "=": [0, 7, 0, 7, 0], ",": [0, 0, 0, 2, 4], "%": [5, 1, 2, 4, 5],
        ":": [0, 2, 0, 2, 0], "?": [7, 1, 2, 0, 2], "_": [0, 0, 0, 0, 7], "+": [0, 2, 7, 2, 0],
    ]
}

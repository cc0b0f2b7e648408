import Foundation
import VQData
import VQEngine
import VQImage
import VQModels

extension VAEPlots {
    /// The posterior means of the test set as points coloured by class, with axes, ticks and a legend. A latent
    /// of more than two dimensions is shown on its first two principal axes (labelled PC1, PC2).
    static func scatter(_ model: any VariationalAutoencoder, _ test: LabeledImages, points: Int) -> Image {
        let n = Swift.min(points, test.count), l = model.latentSize
        var means = [Float]()
        var start = 0
        while start < n {
            let indices = Array(start..<Swift.min(start + 500, n))
            let (x, labels) = test.batch(indices, conditional: model.classes > 0)
            means += model.encode(x, labels: labels).mean.data
            start += 500
        }
        var xs = [Double](), ys = [Double]()
        let axisNames: (String, String)
        if l == 1 {
            xs = means.map(Double.init); ys = [Double](repeating: 0, count: n); axisNames = ("Z1", "")
        } else if l == 2 {
            for i in 0..<n { xs.append(Double(means[2 * i])); ys.append(Double(means[2 * i + 1])) }
            axisNames = ("Z1", "Z2")
        } else {
            let (p1, p2) = principalAxes(means, rows: n, columns: l)
            for i in 0..<n {
                var a = 0.0, b = 0.0
                for j in 0..<l { a += Double(means[i * l + j]) * p1[j]; b += Double(means[i * l + j]) * p2[j] }
                xs.append(a); ys.append(b)
            }
            axisNames = ("PC1", "PC2")
        }
        return drawScatter(xs: xs, ys: ys, classes: Array(test.labels.prefix(n)), axisNames: axisNames,
                           title: "Z MEAN OF \(n) TEST IMAGES")
    }

    static func drawScatter(xs: [Double], ys: [Double], classes: [Int], axisNames: (String, String), title: String) -> Image {
        let (width, height) = (720, 600)
        let (left, right, top, bottom) = (84, 610, 40, 550)
        var canvas = Canvas(width: width, height: height)
        func range(_ v: [Double]) -> (Double, Double) {
            // The 0.5% and 99.5% quantiles, so a few outliers do not squash the picture.
            let s = v.sorted()
            guard !s.isEmpty else { return (-1, 1) }
            var lo = s[Int(Double(s.count - 1) * 0.005)], hi = s[Int(Double(s.count - 1) * 0.995)]
            if hi - lo < 1e-6 { lo -= 1; hi += 1 }
            let pad = (hi - lo) * 0.05
            return (lo - pad, hi + pad)
        }
        let (x0, x1) = range(xs), (y0, y1) = range(ys)
        func px(_ x: Double) -> Int { left + Int((x - x0) / (x1 - x0) * Double(right - left)) }
        func py(_ y: Double) -> Int { bottom - Int((y - y0) / (y1 - y0) * Double(bottom - top)) }
        // Ticks at round steps.
        func step(_ span: Double) -> Double {
            let raw = span / 6, magnitude = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
            for m in [1.0, 2.0, 5.0, 10.0] where raw <= m * magnitude { return m * magnitude }
            return 10 * magnitude
        }
        func label(_ v: Double, _ s: Double) -> String {
            let v = Swift.abs(v) < s * 1e-6 ? 0 : v  // no "-0.0" from accumulated steps
            return s >= 1 ? String(Int(v.rounded())) : String(format: s >= 0.1 ? "%.1f" : "%.2f", v)
        }
        let sx = step(x1 - x0), sy = step(y1 - y0)
        var t = Foundation.ceil(x0 / sx) * sx
        while t <= x1 {
            let p = px(t)
            canvas.verticalLine(x: p, from: top, to: bottom, color: (235, 235, 235))
            canvas.verticalLine(x: p, from: bottom, to: bottom + 4, color: Canvas.black)
            let text = label(t, sx)
            canvas.text(text, x: p - Canvas.textWidth(text) / 2, y: bottom + 8)
            t += sx
        }
        t = Foundation.ceil(y0 / sy) * sy
        while t <= y1 {
            let p = py(t)
            canvas.horizontalLine(y: p, from: left, to: right, color: (235, 235, 235))
            canvas.horizontalLine(y: p, from: left - 4, to: left, color: Canvas.black)
            let text = label(t, sy)
            canvas.text(text, x: left - 8 - Canvas.textWidth(text), y: p - 3)
            t += sy
        }
        for i in xs.indices {
            let x = px(xs[i]), y = py(ys[i])
            guard x >= left, x <= right, y >= top, y <= bottom else { continue }
            canvas.dot(x: x, y: y, radius: 1, color: Canvas.classColors[classes[i] % 10])
        }
        canvas.horizontalLine(y: bottom, from: left, to: right, color: Canvas.black)
        canvas.verticalLine(x: left, from: top, to: bottom, color: Canvas.black)
        canvas.text(title, x: left, y: 14, scale: 2)
        canvas.text(axisNames.0, x: (left + right) / 2 - Canvas.textWidth(axisNames.0, scale: 2) / 2, y: bottom + 24, scale: 2)
        canvas.text(axisNames.1, x: 8, y: (top + bottom) / 2 - 7, scale: 2)
        // Legend: a swatch and the digit per class.
        canvas.text("CLASS", x: right + 30, y: top + 4, scale: 2)
        for c in 0..<Swift.min(10, (classes.max() ?? 0) + 1) {
            let y = top + 32 + c * 26
            canvas.fill(x: right + 30, y: y, width: 16, height: 16, color: Canvas.classColors[c])
            canvas.text(String(c), x: right + 56, y: y + 1, scale: 2)
        }
        return canvas.image
    }

    /// The two leading eigenvectors of the covariance of `data` (rows x columns), by power iteration with
    /// deflation (the matrix is at most a few hundred wide).
    static func principalAxes(_ data: [Float], rows: Int, columns: Int) -> ([Double], [Double]) {
        var mean = [Double](repeating: 0, count: columns)
        for i in 0..<rows { for j in 0..<columns { mean[j] += Double(data[i * columns + j]) } }
        for j in 0..<columns { mean[j] /= Double(rows) }
        var cov = [Double](repeating: 0, count: columns * columns)
        for i in 0..<rows {
            for a in 0..<columns {
                let da = Double(data[i * columns + a]) - mean[a]
                for b in 0..<columns { cov[a * columns + b] += da * (Double(data[i * columns + b]) - mean[b]) }
            }
        }
        func leading(_ m: [Double]) -> [Double] {
            var v = (0..<columns).map { 1 + 0.01 * Double($0) }
            for _ in 0..<500 {
                var w = [Double](repeating: 0, count: columns)
                for a in 0..<columns { for b in 0..<columns { w[a] += m[a * columns + b] * v[b] } }
                let norm = (w.reduce(0) { $0 + $1 * $1 }).squareRoot()
                guard norm > 0 else { break }
                v = w.map { $0 / norm }
            }
            return v
        }
        let v1 = leading(cov)
        var lambda = 0.0
        for a in 0..<columns { for b in 0..<columns { lambda += v1[a] * cov[a * columns + b] * v1[b] } }
        var deflated = cov
        for a in 0..<columns { for b in 0..<columns { deflated[a * columns + b] -= lambda * v1[a] * v1[b] } }
        return (v1, leading(deflated))
    }
}

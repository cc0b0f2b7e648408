import VQImage

/// Image quality against a reference: PSNR and SSIM over 8-bit samples.
public enum Metrics {
    /// Peak signal-to-noise ratio in dB over all samples (peak 255); infinity for identical images.
    public static func psnr(_ a: Image, _ b: Image) -> Double {
        precondition(a.width == b.width && a.height == b.height && a.channels == b.channels, "psnr: images differ in shape")
        var sum = 0.0
        a.pixels.withUnsafeBufferPointer { x in
            b.pixels.withUnsafeBufferPointer { y in
                for i in 0..<x.count { let d = Double(x[i]) - Double(y[i]); sum += d * d }
            }
        }
        let mse = sum / Double(max(a.pixels.count, 1))
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// Mean SSIM (Wang et al. 2004): 11x11 Gaussian window with sigma 1.5 (smaller for tiny images), K1 0.01,
    /// K2 0.03, over the window positions fully inside the image, averaged over channels.
    public static func ssim(_ a: Image, _ b: Image) -> Double {
        precondition(a.width == b.width && a.height == b.height && a.channels == b.channels, "ssim: images differ in shape")
        let size = min(11, a.width, a.height)
        let window = gaussianWindow(size: size, sigma: 1.5 * Double(size) / 11)
        let c1 = pow(0.01 * 255, 2), c2 = pow(0.03 * 255, 2)
        var total = 0.0
        for c in 0..<a.channels {
            let x = plane(a, c), y = plane(b, c)
            let (w, h) = (a.width, a.height)
            let mx = filter(x, w, h, window), my = filter(y, w, h, window)
            let xx = filter(zip(x, x).map(*), w, h, window), yy = filter(zip(y, y).map(*), w, h, window)
            let xy = filter(zip(x, y).map(*), w, h, window)
            var sum = 0.0
            for i in 0..<mx.count {
                let vx = xx[i] - mx[i] * mx[i], vy = yy[i] - my[i] * my[i], cov = xy[i] - mx[i] * my[i]
                sum += ((2 * mx[i] * my[i] + c1) * (2 * cov + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2))
            }
            total += sum / Double(mx.count)
        }
        return total / Double(a.channels)
    }

    private static func plane(_ image: Image, _ channel: Int) -> [Double] {
        stride(from: channel, to: image.pixels.count, by: image.channels).map { Double(image.pixels[$0]) }
    }

    private static func gaussianWindow(size: Int, sigma: Double) -> [Double] {
        let center = Double(size - 1) / 2
        let raw = (0..<size).map { exp(-pow(Double($0) - center, 2) / (2 * sigma * sigma)) }
        let sum = raw.reduce(0, +)
        return raw.map { $0 / sum }
    }

    /// Separable "valid" filtering: output (h - k + 1) x (w - k + 1).
    private static func filter(_ input: [Double], _ w: Int, _ h: Int, _ k: [Double]) -> [Double] {
        let n = k.count, ow = w - n + 1, oh = h - n + 1
        var rows = [Double](repeating: 0, count: h * ow)
        for y in 0..<h {
            for x in 0..<ow {
                var s = 0.0
                for i in 0..<n { s += input[y * w + x + i] * k[i] }
                rows[y * ow + x] = s
            }
        }
        var out = [Double](repeating: 0, count: oh * ow)
        for y in 0..<oh {
            for x in 0..<ow {
                var s = 0.0
                for i in 0..<n { s += rows[(y + i) * ow + x] * k[i] }
                out[y * ow + x] = s
            }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import VQEngine
import VQImage

/// Images [C, H, W] stacked into [B, C, height, width], extended past their right and bottom edges by
/// repeating the last column and row (edge replication keeps the borders free of artificial edges).
func paddedBatch(_ images: [Image], width: Int, height: Int) -> Tensor {
    let c = images[0].channels
    let plane = width * height
    var data = [Float](repeating: 0, count: images.count * c * plane)
    for (b, image) in images.enumerated() {
        let (w, h) = (image.width, image.height)
        image.pixels.withUnsafeBufferPointer { px in
            data.withUnsafeMutableBufferPointer { out in
                for k in 0..<c {
                    let base = (b * c + k) * plane
                    for y in 0..<height {
                        let sy = Swift.min(y, h - 1)
                        for x in 0..<width {
                            let sx = Swift.min(x, w - 1)
                            out[base + y * width + x] = Float(px[(sy * w + sx) * c + k]) / 255
                        }
                    }
                }
            }
        }
    }
    return Tensor(shape: [images.count, c, height, width], data: data)
}

/// The top-left `width` x `height` of each image in a batch [B, C, H, W], as 8-bit images.
func cropped(_ batch: Tensor, width: Int, height: Int) -> [Image] {
    let (n, c, h, w) = (batch.shape[0], batch.shape[1], batch.shape[2], batch.shape[3])
    return (0..<n).map { b in
        var pixels = [UInt8](repeating: 0, count: width * height * c)
        batch.data.withUnsafeBufferPointer { v in
            for k in 0..<c {
                let base = (b * c + k) * h * w
                for y in 0..<height {
                    for x in 0..<width {
                        let value = Swift.min(Swift.max(v[base + y * w + x], 0), 1)
                        pixels[(y * width + x) * c + k] = UInt8((value * 255).rounded())
                    }
                }
            }
        }
        return Image(width: width, height: height, channels: c, pixels: pixels)
    }
}

extension Image {
    /// The image without its alpha channel, composited over a uniform `background` (255: white).
    public func removingAlpha(background: UInt8 = 255) -> Image {
        guard hasAlpha else { return self }
        let colour = channels - 1
        var out = [UInt8](repeating: 0, count: width * height * colour)
        for p in 0..<(width * height) {
            let alpha = Float(pixels[p * channels + colour]) / 255
            for k in 0..<colour {
                let v = Float(pixels[p * channels + k]) * alpha + Float(background) * (1 - alpha)
                out[p * colour + k] = UInt8(Swift.min(255, v.rounded()))
            }
        }
        return Image(width: width, height: height, channels: colour, pixels: out)
    }

    /// Gray to RGB (replicated) or RGB to gray (ITU-R BT.601 luma); alpha is kept. Other counts are unchanged.
    public func converted(toChannels target: Int) -> Image {
        let colour = hasAlpha ? channels - 1 : channels
        guard colour != target, target == 1 || target == 3 else { return self }
        let outChannels = target + (hasAlpha ? 1 : 0)
        var out = [UInt8](repeating: 0, count: width * height * outChannels)
        for p in 0..<(width * height) {
            let src = p * channels, dst = p * outChannels
            if target == 3 {
                for k in 0..<3 { out[dst + k] = pixels[src] }
            } else {
                let y = 0.299 * Float(pixels[src]) + 0.587 * Float(pixels[src + 1]) + 0.114 * Float(pixels[src + 2])
                out[dst] = UInt8(Swift.min(255, y.rounded()))
            }
            if hasAlpha { out[dst + target] = pixels[src + colour] }
        }
        return Image(width: width, height: height, channels: outChannels, pixels: out)
    }
}

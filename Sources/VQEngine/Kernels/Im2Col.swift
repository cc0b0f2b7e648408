/// Geometry of a 2-D convolution over NCHW images, shared by conv2d and its adjoint (transposed conv).
/// The "column" matrix has `channels * kernelHeight * kernelWidth` rows and `batch * outputHeight *
/// outputWidth` columns: row (c, i, j) holds, for every output position, the input pixel that kernel
/// tap (i, j) of channel c sees there (0 in the padding).
struct ConvGeometry {
    var batch, channels, height, width: Int
    var kernelHeight, kernelWidth: Int
    var stride, padding: Int
    var outputHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    var outputWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    var columnRows: Int { channels * kernelHeight * kernelWidth }
    var columnCount: Int { batch * outputHeight * outputWidth }
}

/// Unfolds `image` [batch, channels, height, width] into `columns` [columnRows, columnCount].
func im2col(_ g: ConvGeometry, image: UnsafePointer<Float>, columns: UnsafeMutablePointer<Float>) {
    let oh = g.outputHeight, ow = g.outputWidth
    let planeOut = oh * ow
    let taps = g.kernelHeight * g.kernelWidth
    parallelRanges(g.columnRows, minimumPerThread: max(1, 8192 / max(1, g.columnCount))) { rows in
        for row in rows {
            let c = row / taps, i = (row % taps) / g.kernelWidth, j = row % g.kernelWidth
            let rowBase = columns + row * g.columnCount
            for b in 0..<g.batch {
                let plane = image + (b * g.channels + c) * g.height * g.width
                let outBase = rowBase + b * planeOut
                for y in 0..<oh {
                    let iy = y * g.stride - g.padding + i
                    let dst = outBase + y * ow
                    if iy < 0 || iy >= g.height {
                        dst.update(repeating: 0, count: ow)
                        continue
                    }
                    let src = plane + iy * g.width
                    if g.stride == 1 {
                        // Contiguous run with zero borders.
                        let shift = j - g.padding
                        let lo = min(ow, max(0, -shift)), hi = max(lo, min(ow, g.width - shift))
                        if lo > 0 { dst.update(repeating: 0, count: lo) }
                        if hi > lo { (dst + lo).update(from: src + lo + shift, count: hi - lo) }
                        if hi < ow { (dst + hi).update(repeating: 0, count: ow - hi) }
                    } else {
                        // Output columns whose input column x * stride - padding + j lies inside the image.
                        let offset = j - g.padding
                        let lo = Swift.min(ow, offset >= 0 ? 0 : (-offset + g.stride - 1) / g.stride)
                        let hi = Swift.max(lo, Swift.min(ow, offset >= g.width ? 0 : (g.width - 1 - offset) / g.stride + 1))
                        if lo > 0 { dst.update(repeating: 0, count: lo) }
                        var ix = lo * g.stride + offset
                        for x in lo..<hi { dst[x] = src[ix]; ix += g.stride }
                        if hi < ow { (dst + hi).update(repeating: 0, count: ow - hi) }
                    }
                }
            }
        }
    }
}

/// Folds `columns` back, adding each entry into the pixel it came from: `image` += col2im(columns).
/// The adjoint of `im2col`. Rows of one channel write only to that channel, so channels run in parallel.
func col2im(_ g: ConvGeometry, columns: UnsafePointer<Float>, image: UnsafeMutablePointer<Float>) {
    let oh = g.outputHeight, ow = g.outputWidth
    let planeOut = oh * ow
    let taps = g.kernelHeight * g.kernelWidth
    parallelRanges(g.channels, minimumPerThread: max(1, 8192 / max(1, taps * g.columnCount))) { channels in
        for c in channels {
            for tap in 0..<taps {
                let i = tap / g.kernelWidth, j = tap % g.kernelWidth
                let rowBase = columns + (c * taps + tap) * g.columnCount
                for b in 0..<g.batch {
                    let plane = image + (b * g.channels + c) * g.height * g.width
                    let srcBase = rowBase + b * planeOut
                    for y in 0..<oh {
                        let iy = y * g.stride - g.padding + i
                        if iy < 0 || iy >= g.height { continue }
                        let dst = plane + iy * g.width
                        let src = srcBase + y * ow
                        if g.stride == 1 {
                            let shift = j - g.padding
                            let lo = max(0, -shift), hi = min(ow, g.width - shift)
                            if hi > lo { for x in lo..<hi { dst[x + shift] += src[x] } }
                        } else {
                            for x in 0..<ow {
                                let ix = x * g.stride - g.padding + j
                                if ix >= 0 && ix < g.width { dst[ix] += src[x] }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// [batch, channels, plane] <-> [channels, batch * plane]: the layout change between NCHW tensors and
/// the channel-major matrices the convolution GEMMs work on.
func batchToChannelMajor(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                         batch: Int, channels: Int, plane: Int) {
    parallelRanges(channels, minimumPerThread: max(1, 16384 / max(1, batch * plane))) { range in
        for c in range {
            for b in 0..<batch {
                (dst + (c * batch + b) * plane).update(from: src + (b * channels + c) * plane, count: plane)
            }
        }
    }
}

func channelMajorToBatch(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                         batch: Int, channels: Int, plane: Int) {
    parallelRanges(channels, minimumPerThread: max(1, 16384 / max(1, batch * plane))) { range in
        for c in range {
            for b in 0..<batch {
                (dst + (b * channels + c) * plane).update(from: src + (c * batch + b) * plane, count: plane)
            }
        }
    }
}

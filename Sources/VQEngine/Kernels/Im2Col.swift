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

/// The output positions p whose input position p * stride - padding + tap lies inside an axis of `size`
/// input elements (of which there are `outputSize` outputs), as lo..<hi.
@inline(__always)
func validOutputRange(size: Int, outputSize: Int, stride: Int, padding: Int, tap: Int) -> (Int, Int) {
    let offset = tap - padding
    let lo = Swift.min(outputSize, offset >= 0 ? 0 : (-offset + stride - 1) / stride)
    let hi = Swift.max(lo, Swift.min(outputSize, offset >= size ? 0 : (size - 1 - offset) / stride + 1))
    return (lo, hi)
}

/// Unfolds `image` [batch, channels, height, width] into `columns` [columnRows, columnCount].
/// Per row (one kernel tap of one channel) the valid output rectangle is found once; inside it each
/// output row is a strided gather, outside it zeros.
func im2col(_ g: ConvGeometry, image: UnsafePointer<Float>, columns: UnsafeMutablePointer<Float>) {
    let oh = g.outputHeight, ow = g.outputWidth, s = g.stride
    let planeOut = oh * ow, planeIn = g.height * g.width
    let taps = g.kernelHeight * g.kernelWidth
    parallelRanges(g.columnRows, minimumPerThread: Swift.max(1, 8192 / Swift.max(1, g.columnCount))) { rows in
        for row in rows {
            let c = row / taps, i = (row % taps) / g.kernelWidth, j = row % g.kernelWidth
            let (xLo, xHi) = validOutputRange(size: g.width, outputSize: ow, stride: s, padding: g.padding, tap: j)
            let (yLo, yHi) = validOutputRange(size: g.height, outputSize: oh, stride: s, padding: g.padding, tap: i)
            let xStart = xLo * s + j - g.padding
            let rowBase = columns + row * g.columnCount
            for b in 0..<g.batch {
                let plane = image + (b * g.channels + c) * planeIn
                let out = rowBase + b * planeOut
                if yLo > 0 { out.update(repeating: 0, count: yLo * ow) }
                for y in yLo..<yHi {
                    let src = plane + (y * s - g.padding + i) * g.width + xStart
                    let dst = out + y * ow
                    for x in 0..<xLo { dst[x] = 0 }
                    var ix = 0
                    for x in xLo..<xHi { dst[x] = src[ix]; ix += s }
                    for x in xHi..<ow { dst[x] = 0 }
                }
                if yHi < oh { (out + yHi * ow).update(repeating: 0, count: (oh - yHi) * ow) }
            }
        }
    }
}

/// Folds `columns` back, adding each entry into the pixel it came from: `image` += col2im(columns).
/// The adjoint of `im2col`. Rows of one channel write only to that channel, so channels run in parallel.
func col2im(_ g: ConvGeometry, columns: UnsafePointer<Float>, image: UnsafeMutablePointer<Float>) {
    let oh = g.outputHeight, ow = g.outputWidth, s = g.stride
    let planeOut = oh * ow, planeIn = g.height * g.width
    let taps = g.kernelHeight * g.kernelWidth
    parallelRanges(g.channels, minimumPerThread: Swift.max(1, 8192 / Swift.max(1, taps * g.columnCount))) { channels in
        for c in channels {
            for tap in 0..<taps {
                let i = tap / g.kernelWidth, j = tap % g.kernelWidth
                let (xLo, xHi) = validOutputRange(size: g.width, outputSize: ow, stride: s, padding: g.padding, tap: j)
                let (yLo, yHi) = validOutputRange(size: g.height, outputSize: oh, stride: s, padding: g.padding, tap: i)
                let xStart = xLo * s + j - g.padding
                let rowBase = columns + (c * taps + tap) * g.columnCount
                for b in 0..<g.batch {
                    let plane = image + (b * g.channels + c) * planeIn
                    let srcBase = rowBase + b * planeOut
                    for y in yLo..<yHi {
                        let dst = plane + (y * s - g.padding + i) * g.width + xStart
                        let src = srcBase + y * ow
                        var ix = 0
                        for x in xLo..<xHi { dst[ix] += src[x]; ix += s }
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

import CKernels

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
/// The image is first copied into a zero-bordered one (when there is padding), so that every entry of a
/// row is a plain gather: output position p of tap (i, j) reads padded pixel i * Wp + j + offsets[p], with one
/// offset table for all taps, channels and images. No bounds, no zero runs, no short inner loops.
/// With AVX-512 and stride 1 or 2, each (image, channel) plane is unfolded by the C kernel instead, straight
/// from the image (the same values); `vectorized: false` takes the gather below (for tests comparing them).
func im2col(_ g: ConvGeometry, image: UnsafePointer<Float>, columns: UnsafeMutablePointer<Float>,
            threads: Int = ComputeThreads.count, vectorized: Bool = true) {
    let oh = g.outputHeight, ow = g.outputWidth, s = g.stride, pad = g.padding
    let planeOut = oh * ow
    let taps = g.kernelHeight * g.kernelWidth
    if vectorized && VectorUnit.hasAVX512 && (s == 1 || s == 2) {
        let planeIn = g.height * g.width
        parallelRanges(g.channels * g.batch, minimumPerThread: Swift.max(1, 8192 / Swift.max(1, taps * planeOut)),
                       threads: threads) { pairs in
            for pair in pairs {
                let c = pair / g.batch, b = pair % g.batch
                vq_im2col_plane_avx512(image + (b * g.channels + c) * planeIn, g.height, g.width, g.kernelHeight,
                                       g.kernelWidth, s, pad, oh, ow, columns + c * taps * g.columnCount + b * planeOut,
                                       g.columnCount)
            }
        }
        return
    }
    let hp = g.height + 2 * pad, wp = g.width + 2 * pad, planePadded = hp * wp
    var offsets = [Int32](repeating: 0, count: planeOut)
    for y in 0..<oh { for x in 0..<ow { offsets[y * ow + x] = Int32(y * s * wp + x * s) } }
    let padded: [Float] = pad == 0 ? [] : [Float](unsafeUninitializedCapacity: g.batch * g.channels * planePadded) { buffer, initialized in
        let dst = buffer.baseAddress!
        parallelRanges(g.batch * g.channels, minimumPerThread: Swift.max(1, 16_384 / planePadded), threads: threads) { planes in
            for p in planes {
                let out = dst + p * planePadded, src = image + p * g.height * g.width
                out.update(repeating: 0, count: pad * wp)
                for y in 0..<g.height {
                    let row = out + (y + pad) * wp
                    row.update(repeating: 0, count: pad)
                    (row + pad).update(from: src + y * g.width, count: g.width)
                    (row + pad + g.width).update(repeating: 0, count: pad)
                }
                (out + (g.height + pad) * wp).update(repeating: 0, count: pad * wp)
            }
        }
        initialized = g.batch * g.channels * planePadded
    }
    padded.withUnsafeBufferPointer { pp in
        offsets.withUnsafeBufferPointer { op in
            let source = pad == 0 ? image : UnsafePointer(pp.baseAddress!), offsets = op.baseAddress!
            parallelRanges(g.columnRows, minimumPerThread: Swift.max(1, 8192 / Swift.max(1, g.columnCount)), threads: threads) { rows in
                for row in rows {
                    let c = row / taps, i = (row % taps) / g.kernelWidth, j = row % g.kernelWidth
                    let rowBase = columns + row * g.columnCount
                    for b in 0..<g.batch {
                        let plane = source + (b * g.channels + c) * planePadded + i * wp + j
                        let out = rowBase + b * planeOut
                        for q in 0..<planeOut { out[q] = plane[Int(offsets[q])] }
                    }
                }
            }
        }
    }
}

/// Folds `columns` back, adding each entry into the pixel it came from: `image` += col2im(columns).
/// The adjoint of `im2col`, with the same offset table: per (image, channel) plane the taps are added in
/// order into a zero-bordered scratch plane, whose interior is then added to the image. Planes are
/// independent, so they run in parallel, and every pixel sums in the same order on any thread count.
/// With `overwrite` the image's old contents are ignored (it may be uninitialised): image = col2im(columns),
/// plus `bias[c]` on channel c when given. With `relu`, pixels <= 0 become +0 at the end (as `Tensor.relu`).
/// `vectorized: false` takes the scalar fold (for tests comparing them).
func col2im(_ g: ConvGeometry, columns: UnsafePointer<Float>, image: UnsafeMutablePointer<Float>,
            overwrite: Bool = false, bias: UnsafePointer<Float>? = nil, relu: Bool = false,
            threads: Int = ComputeThreads.count, vectorized: Bool = true) {
    let oh = g.outputHeight, ow = g.outputWidth, s = g.stride, pad = g.padding
    let planeOut = oh * ow, planeIn = g.height * g.width
    let taps = g.kernelHeight * g.kernelWidth
    let minimumPlanes = Swift.max(1, 8192 / Swift.max(1, taps * planeOut))
    if vectorized && VectorUnit.hasAVX512 && (s == 1 || s == 2) && g.kernelWidth <= Int(VQ_COL2IM_MAX_KERNEL_WIDTH) {
        // The gather-form C fold adds each pixel's taps in the order of the scalar loop below: the same bits.
        parallelRanges(g.channels * g.batch, minimumPerThread: minimumPlanes, threads: threads) { pairs in
            for pair in pairs {
                let c = pair / g.batch, b = pair % g.batch
                vq_col2im_plane_avx512(columns + c * taps * g.columnCount + b * planeOut, g.columnCount,
                                       g.kernelHeight, g.kernelWidth, s, pad, oh, ow,
                                       image + (b * g.channels + c) * planeIn, g.height, g.width,
                                       overwrite ? 0 : 1, bias == nil ? 0 : 1, bias?[c] ?? 0, relu ? 1 : 0)
            }
        }
        return
    }
    let hp = g.height + 2 * pad, wp = g.width + 2 * pad, planePadded = hp * wp
    var offsets = [Int32](repeating: 0, count: planeOut)
    for y in 0..<oh { for x in 0..<ow { offsets[y * ow + x] = Int32(y * s * wp + x * s) } }
    offsets.withUnsafeBufferPointer { op in
        let offsets = op.baseAddress!
        parallelRanges(g.channels * g.batch, minimumPerThread: minimumPlanes, threads: threads) { pairs in
            var scratch = [Float](repeating: 0, count: planePadded)
            scratch.withUnsafeMutableBufferPointer { sp in
                let plane = sp.baseAddress!
                for pair in pairs {
                    let c = pair / g.batch, b = pair % g.batch
                    plane.update(repeating: 0, count: planePadded)
                    for tap in 0..<taps {
                        let i = tap / g.kernelWidth, j = tap % g.kernelWidth
                        let src = columns + (c * taps + tap) * g.columnCount + b * planeOut
                        let dst = plane + i * wp + j
                        for q in 0..<planeOut { dst[Int(offsets[q])] += src[q] }
                    }
                    let out = image + (b * g.channels + c) * planeIn
                    let shift = bias?[c] ?? 0
                    for y in 0..<g.height {
                        let row = out + y * g.width, from = plane + (y + pad) * wp + pad
                        if overwrite {
                            if bias == nil { row.update(from: from, count: g.width) } else { for x in 0..<g.width { row[x] = from[x] + shift } }
                        } else {
                            for x in 0..<g.width { row[x] += from[x] + shift }
                        }
                        if relu { for x in 0..<g.width where row[x] <= 0 { row[x] = 0 } }
                    }
                }
            }
        }
    }
}

/// [batch, channels, plane] <-> [channels, batch * plane]: the layout change between NCHW tensors and
/// the channel-major matrices the convolution GEMMs work on.
func batchToChannelMajor(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                         batch: Int, channels: Int, plane: Int, threads: Int = ComputeThreads.count) {
    parallelRanges(channels, minimumPerThread: max(1, 16384 / max(1, batch * plane)), threads: threads) { range in
        for c in range {
            for b in 0..<batch {
                (dst + (c * batch + b) * plane).update(from: src + (b * channels + c) * plane, count: plane)
            }
        }
    }
}

/// With `bias`, channel c also gets bias[c] added on the way; with `relu`, values <= 0 then become +0 (as
/// `Tensor.relu`).
func channelMajorToBatch(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                         batch: Int, channels: Int, plane: Int, bias: UnsafePointer<Float>? = nil,
                         relu: Bool = false, threads: Int = ComputeThreads.count) {
    parallelRanges(channels, minimumPerThread: max(1, 16384 / max(1, batch * plane)), threads: threads) { range in
        for c in range {
            for b in 0..<batch {
                let to = dst + (b * channels + c) * plane, from = src + (c * batch + b) * plane
                if bias != nil || relu {
                    let shift = bias?[c] ?? 0
                    @inline(__always) func vectorStep(_ i: Int, _ n: Int) {
                        var v = loadVector(from + i, count: n)
                        if bias != nil { v += shift }
                        if relu { v.replace(with: 0, where: v .<= 0) }
                        storeVector(v, to + i, count: n)
                    }
                    forEachVector(in: 0..<plane, vectorStep)
                } else {
                    to.update(from: from, count: plane)
                }
            }
        }
    }
}

/// 2-D convolution and transposed convolution over NCHW images, by im2col and GEMM, a block of images at a time.
///
/// conv2d:            out[Cout, b*HW'] = W[Cout, Cin*kh*kw] * im2col(x)           for each block of b images
/// conv_transpose2d:  out = col2im(W[Cin, Cout*kh*kw]^T * x[Cin, b*HW])  (the adjoint of conv2d)
/// Each backward is the other's forward with the roles of data and gradient swapped.
///
/// Why blocks: a block's column matrix (at most 1 MiB), its products and its share of the output stay in the
/// cache of the core working on it. Over the whole batch at once they stream through memory, and the two cores
/// here share memory at the bandwidth of one (about 11 GB/s), so the second core added little. The blocks run in
/// parallel, one thread each. The block size depends only on the shapes, and every output element is the same
/// product on any thread count; weight gradients are summed per block, then over blocks in order.

/// Per channel, the sum over images (in order) of the sum over its plane: each channel is one thread's,
/// so the order is the same on any thread count.
private func accumulateChannelBiasGradient(_ bias: Tensor, _ g: [Float], batch: Int, channels: Int, plane: Int) {
    bias.accumulateInPlace { gb in
        g.withUnsafeBufferPointer { gp in
            let gp = gp.baseAddress!
            parallelRanges(channels, minimumPerThread: Swift.max(1, 16_384 / Swift.max(1, batch * plane))) { range in
                for c in range {
                    for b in 0..<batch {
                        let base = gp + (b * channels + c) * plane
                        var sums = FloatVector(repeating: 0)
                        @inline(__always) func vectorStep(_ i: Int, _ n: Int) { sums += loadVector(base + i, count: n) }
                        forEachVector(in: 0..<plane, vectorStep)
                        gb[c] += horizontalSum(sums)
                    }
                }
            }
        }
    }
}

/// Images per block: the largest count whose column matrix (`rows` x `plane` per image) fits in 1 MiB, then
/// evened out over the blocks, and with more than one block, an even number of them: the blocks are split over
/// the threads in two halves on a 2-core machine, and 13 blocks kept one core idle for a fourteenth of the layer.
/// The count depends only on the shapes, never on the thread count.
func imagesPerBlock(batch: Int, rows: Int, plane: Int) -> Int {
    let most = Swift.max(1, Swift.min(batch, (1 << 18) / Swift.max(1, rows * plane)))
    var blocks = (batch + most - 1) / most
    if blocks == 1 { return batch }
    while true {
        let images = (batch + blocks - 1) / blocks
        if ((batch + images - 1) / images) % 2 == 0 || images == 1 { return images }
        blocks += 1
    }
}

/// Runs `body(block, first image, images, threads)` for every block; `scratch` makes each thread's buffers once.
/// With at least as many blocks as threads, the blocks are spread over the threads and each runs on one
/// (`threads` is 1); with fewer (one large image), they run in turn and each may use all the threads.
private func forEachBlock<Scratch>(batch: Int, blockImages: Int, scratch: () -> Scratch,
                                   _ body: (_ block: Int, _ first: Int, _ count: Int, _ threads: Int, inout Scratch) -> Void) {
    let blocks = (batch + blockImages - 1) / blockImages
    let threads = ComputeThreads.count
    if blocks < threads {
        var buffers = scratch()
        for block in 0..<blocks {
            let first = block * blockImages
            body(block, first, Swift.min(blockImages, batch - first), threads, &buffers)
        }
        return
    }
    nonisolated(unsafe) let (scratch, body) = (scratch, body)
    parallelRanges(blocks, minimumPerThread: 1, threads: threads) { range in
        var buffers = scratch()
        for block in range {
            let first = block * blockImages
            body(block, first, Swift.min(blockImages, batch - first), 1, &buffers)
        }
    }
}

/// One block's share of a weight gradient: share[channels, rows] = channelMajor[channels, positions] *
/// columns[rows, positions]^T.
private func weightGradientShare(_ channelMajor: UnsafePointer<Float>, _ columns: UnsafePointer<Float>, channels: Int, rows: Int,
                                 positions: Int, into share: UnsafeMutablePointer<Float>, threads: Int) {
    gemm(transposeA: false, transposeB: true, m: channels, n: rows, k: positions, a: channelMajor, lda: positions,
         b: columns, ldb: positions, beta: 0, c: share, ldc: rows, threads: threads)
}

/// Adds `partials` (`count` values per block) into `gradient`, block after block.
private func addBlockPartials(_ partials: [Float], count: Int, into tensor: Tensor) {
    tensor.accumulateInPlace { g in
        partials.withUnsafeBufferPointer { p in
            for block in 0..<(partials.count / Swift.max(1, count)) {
                let part = p.baseAddress! + block * count, out = g.baseAddress!
                @inline(__always) func vectorStep(_ i: Int, _ n: Int) {
                    storeVector(loadVector(out + i, count: n) + loadVector(part + i, count: n), out + i, count: n)
                }
                forEachVector(in: 0..<count, vectorStep)
            }
        }
    }
}

/// Two scratch matrices of one thread (uninitialised: every use writes before it reads).
private struct BlockBuffers {
    var first: [Float], second: [Float]
    init(_ a: Int, _ b: Int) {
        first = uninitializedFloats(a) { _ in }
        second = uninitializedFloats(b) { _ in }
    }
}

extension Tensor {
    /// `torch.nn.functional.conv2d`: self [B, Cin, H, W], weight [Cout, Cin, kh, kw], bias [Cout]. With `relu`,
    /// ReLU follows on the way out (the values and gradients of `.relu()` after, one pass over memory fewer).
    public func conv2d(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, relu: Bool = false) -> Tensor {
        precondition(rank == 4 && weight.rank == 4, shapeMismatchMessage("conv2d", shape, weight.shape, "input [B, Cin, H, W], weight [Cout, Cin, kh, kw]"))
        checkShape(shape[1] == weight.shape[1], "conv2d", shape, weight.shape, "input has \(shape[1]) channels, weight expects \(weight.shape[1])")
        precondition(stride >= 1 && padding >= 0, "conv2d: stride must be >= 1 and padding >= 0, found \(stride), \(padding)")
        let outChannels = weight.shape[0]
        if let bias { checkShape(bias.shape == [outChannels], "conv2d", weight.shape, bias.shape, "bias must be [Cout]") }
        let g = ConvGeometry(batch: shape[0], channels: shape[1], height: shape[2], width: shape[3],
                             kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride, padding: padding)
        precondition(g.outputHeight > 0 && g.outputWidth > 0,
                     shapeMismatchMessage("conv2d", shape, weight.shape, "the kernel does not fit the padded input"))
        let plane = g.outputHeight * g.outputWidth, rows = g.columnRows
        let blockImages = imagesPerBlock(batch: g.batch, rows: rows, plane: plane)
        let imageSize = g.channels * g.height * g.width, outputSize = outChannels * plane
        func blockGeometry(_ count: Int) -> ConvGeometry { var b = g; b.batch = count; return b }
        let out = data.withUnsafeBufferPointer { x in
            weight.data.withUnsafeBufferPointer { w in
                withBias(bias) { bp in
                    uninitializedFloats(g.batch * outputSize) { o in
                        nonisolated(unsafe) let (x, w, o, bp) = (x.baseAddress!, w.baseAddress!, o.baseAddress!, bp)
                        forEachBlock(batch: g.batch, blockImages: blockImages,
                                     scratch: { BlockBuffers(rows * blockImages * plane, outChannels * blockImages * plane) }) { _, first, count, threads, s in
                            let block = blockGeometry(count)
                            s.first.withUnsafeMutableBufferPointer { col in
                                s.second.withUnsafeMutableBufferPointer { product in
                                    im2col(block, image: x + first * imageSize, columns: col.baseAddress!, threads: threads)
                                    gemm(transposeA: false, transposeB: false, m: outChannels, n: block.columnCount, k: rows,
                                         a: w, lda: rows, b: col.baseAddress!, ldb: block.columnCount,
                                         beta: 0, c: product.baseAddress!, ldc: block.columnCount, threads: threads)
                                    channelMajorToBatch(product.baseAddress!, o + first * outputSize, batch: count,
                                                        channels: outChannels, plane: plane, bias: bp, relu: relu, threads: threads)
                                }
                            }
                        }
                    }
                }
            }
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return Tensor.recorded(relu ? "conv2d+relu" : "conv2d", shape: [g.batch, outChannels, g.outputHeight, g.outputWidth], data: out, inputs: inputs) { r in
            let grad = relu ? reluGradient(r.grad!, output: out) : r.grad!
            let wantWeight = weight.requiresGrad, wantInput = self.requiresGrad
            let blocks = (g.batch + blockImages - 1) / blockImages
            // Per block: the gradient in channel-major layout; the columns again (cheaper than keeping them);
            // the weight gradient's share; the input gradient's columns, folded back into the block's images.
            var partials = wantWeight ? uninitializedFloats(blocks * outChannels * rows) { _ in } : []
            let fold = { (gx: UnsafeMutablePointer<Float>?, fresh: Bool) in
                grad.withUnsafeBufferPointer { gp in
                    self.data.withUnsafeBufferPointer { x in
                        weight.data.withUnsafeBufferPointer { w in
                            partials.withUnsafeMutableBufferPointer { pw in
                                nonisolated(unsafe) let (gp, x, w, pw, gx) = (gp.baseAddress!, x.baseAddress!, w.baseAddress!, pw.baseAddress, gx)
                                forEachBlock(batch: g.batch, blockImages: blockImages, scratch: {
                                    BlockBuffers(outChannels * blockImages * plane, rows * blockImages * plane)
                                }) { index, first, count, threads, s in
                                    let block = blockGeometry(count)
                                    s.first.withUnsafeMutableBufferPointer { gm in
                                        s.second.withUnsafeMutableBufferPointer { col in
                                            batchToChannelMajor(gp + first * outputSize, gm.baseAddress!, batch: count,
                                                                channels: outChannels, plane: plane, threads: threads)
                                            if let pw {
                                                im2col(block, image: x + first * imageSize, columns: col.baseAddress!, threads: threads)
                                                weightGradientShare(gm.baseAddress!, col.baseAddress!, channels: outChannels, rows: rows,
                                                                    positions: block.columnCount, into: pw + index * outChannels * rows, threads: threads)
                                            }
                                            if let gx {
                                                gemm(transposeA: true, transposeB: false, m: rows, n: block.columnCount, k: outChannels,
                                                     a: w, lda: rows, b: gm.baseAddress!, ldb: block.columnCount,
                                                     beta: 0, c: col.baseAddress!, ldc: block.columnCount, threads: threads)
                                                col2im(block, columns: col.baseAddress!, image: gx + first * imageSize, overwrite: fresh, threads: threads)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if wantInput {
                self.accumulateInPlace { gx, fresh in fold(gx.baseAddress!, fresh) }
            } else if wantWeight {
                fold(nil, false)
            }
            if wantWeight { addBlockPartials(partials, count: outChannels * rows, into: weight) }
            if let bias, bias.requiresGrad {
                accumulateChannelBiasGradient(bias, grad, batch: g.batch, channels: outChannels, plane: plane)
            }
        }
    }

    /// `torch.nn.functional.conv_transpose2d`: self [B, Cin, H, W], weight [Cin, Cout, kh, kw], bias [Cout];
    /// output size (H - 1) * stride - 2 * padding + kh + outputPadding. With `relu`, ReLU follows on the way out
    /// (the values and gradients of `.relu()` after, one pass over memory fewer).
    public func convTranspose2d(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0,
                                relu: Bool = false) -> Tensor {
        precondition(rank == 4 && weight.rank == 4, shapeMismatchMessage("conv_transpose2d", shape, weight.shape, "input [B, Cin, H, W], weight [Cin, Cout, kh, kw]"))
        checkShape(shape[1] == weight.shape[0], "conv_transpose2d", shape, weight.shape, "input has \(shape[1]) channels, weight expects \(weight.shape[0])")
        precondition(stride >= 1 && padding >= 0 && outputPadding >= 0 && outputPadding < stride,
                     "conv_transpose2d: needs stride >= 1, padding >= 0, 0 <= output padding < stride; found \(stride), \(padding), \(outputPadding)")
        let (batch, inChannels, height, width) = (shape[0], shape[1], shape[2], shape[3])
        let outChannels = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        if let bias { checkShape(bias.shape == [outChannels], "conv_transpose2d", weight.shape, bias.shape, "bias must be [Cout]") }
        let outHeight = (height - 1) * stride - 2 * padding + kh + outputPadding
        let outWidth = (width - 1) * stride - 2 * padding + kw + outputPadding
        precondition(outHeight > 0 && outWidth > 0, shapeMismatchMessage("conv_transpose2d", shape, weight.shape, "the output would be empty"))
        // The conv2d whose adjoint this is: it maps [B, Cout, outH, outW] to [B, Cin, H, W].
        let g = ConvGeometry(batch: batch, channels: outChannels, height: outHeight, width: outWidth,
                             kernelHeight: kh, kernelWidth: kw, stride: stride, padding: padding)
        precondition(g.outputHeight == height && g.outputWidth == width, "conv_transpose2d: inconsistent geometry for \(shape)")
        let plane = height * width, rows = g.columnRows
        let blockImages = imagesPerBlock(batch: batch, rows: rows, plane: plane)
        let imageSize = inChannels * plane, outputSize = outChannels * outHeight * outWidth
        func blockGeometry(_ count: Int) -> ConvGeometry { var b = g; b.batch = count; return b }
        let out = data.withUnsafeBufferPointer { x in
            weight.data.withUnsafeBufferPointer { w in
                withBias(bias) { bp in
                    uninitializedFloats(batch * outputSize) { o in
                        nonisolated(unsafe) let (x, w, o, bp) = (x.baseAddress!, w.baseAddress!, o.baseAddress!, bp)
                        forEachBlock(batch: batch, blockImages: blockImages,
                                     scratch: { BlockBuffers(inChannels * blockImages * plane, rows * blockImages * plane) }) { _, first, count, threads, s in
                            let block = blockGeometry(count)
                            s.first.withUnsafeMutableBufferPointer { im in
                                s.second.withUnsafeMutableBufferPointer { col in
                                    batchToChannelMajor(x + first * imageSize, im.baseAddress!, batch: count,
                                                        channels: inChannels, plane: plane, threads: threads)
                                    gemm(transposeA: true, transposeB: false, m: rows, n: block.columnCount, k: inChannels,
                                         a: w, lda: rows, b: im.baseAddress!, ldb: block.columnCount,
                                         beta: 0, c: col.baseAddress!, ldc: block.columnCount, threads: threads)
                                    col2im(block, columns: col.baseAddress!, image: o + first * outputSize, overwrite: true, bias: bp,
                                           relu: relu, threads: threads)
                                }
                            }
                        }
                    }
                }
            }
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return Tensor.recorded(relu ? "conv_transpose2d+relu" : "conv_transpose2d", shape: [batch, outChannels, outHeight, outWidth],
                               data: out, inputs: inputs) { r in
            let grad = relu ? reluGradient(r.grad!, output: out) : r.grad!
            let wantWeight = weight.requiresGrad, wantInput = self.requiresGrad
            let blocks = (batch + blockImages - 1) / blockImages
            // Per block: the gradient's columns; the input in channel-major layout and the weight gradient's
            // share; the input gradient, channel-major, laid back out as images.
            var partials = wantWeight ? uninitializedFloats(blocks * inChannels * rows) { _ in } : []
            let inputGradient = { (gx: UnsafeMutablePointer<Float>?) in
                grad.withUnsafeBufferPointer { gp in
                    self.data.withUnsafeBufferPointer { x in
                        weight.data.withUnsafeBufferPointer { w in
                            partials.withUnsafeMutableBufferPointer { pw in
                                nonisolated(unsafe) let (gp, x, w, pw, gx) = (gp.baseAddress!, x.baseAddress!, w.baseAddress!, pw.baseAddress, gx)
                                forEachBlock(batch: batch, blockImages: blockImages, scratch: {
                                    BlockBuffers(rows * blockImages * plane, inChannels * blockImages * plane)
                                }) { index, first, count, threads, s in
                                    let block = blockGeometry(count)
                                    s.first.withUnsafeMutableBufferPointer { col in
                                        s.second.withUnsafeMutableBufferPointer { im in
                                            im2col(block, image: gp + first * outputSize, columns: col.baseAddress!, threads: threads)
                                            if let pw {
                                                batchToChannelMajor(x + first * imageSize, im.baseAddress!, batch: count,
                                                                    channels: inChannels, plane: plane, threads: threads)
                                                weightGradientShare(im.baseAddress!, col.baseAddress!, channels: inChannels, rows: rows,
                                                                    positions: block.columnCount, into: pw + index * inChannels * rows, threads: threads)
                                            }
                                            if let gx {
                                                gemm(transposeA: false, transposeB: false, m: inChannels, n: block.columnCount, k: rows,
                                                     a: w, lda: rows, b: col.baseAddress!, ldb: block.columnCount,
                                                     beta: 0, c: im.baseAddress!, ldc: block.columnCount, threads: threads)
                                                channelMajorToBatch(im.baseAddress!, gx + first * imageSize, batch: count,
                                                                    channels: inChannels, plane: plane, threads: threads)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if wantInput {
                // Every element is written, so the layout change fills a fresh gradient; an existing one gets it added.
                let fresh = uninitializedFloats(self.count) { gx in inputGradient(gx.baseAddress!) }
                self.accumulate(fresh)
            } else if wantWeight {
                inputGradient(nil)
            }
            if wantWeight { addBlockPartials(partials, count: inChannels * rows, into: weight) }
            if let bias, bias.requiresGrad {
                accumulateChannelBiasGradient(bias, grad, batch: batch, channels: outChannels, plane: outHeight * outWidth)
            }
        }
    }
}

/// 2-D convolution and transposed convolution over NCHW images, by im2col and one GEMM over the whole batch.
///
/// conv2d:            out[Cout, B*HW'] = W[Cout, Cin*kh*kw] * im2col(x)
/// conv_transpose2d:  out = col2im(W[Cin, Cout*kh*kw]^T * x[Cin, B*HW])  (the adjoint of conv2d)
/// Each backward is the other's forward with the roles of data and gradient swapped.

/// Runs `body` with a pointer to the bias values, or nil without a bias.
@inline(__always)
private func withBias<R>(_ bias: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let bias else { return body(nil) }
    return bias.data.withUnsafeBufferPointer { body($0.baseAddress!) }
}

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

extension Tensor {
    /// `torch.nn.functional.conv2d`: self [B, Cin, H, W], weight [Cout, Cin, kh, kw], bias [Cout].
    public func conv2d(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(rank == 4 && weight.rank == 4, shapeMismatchMessage("conv2d", shape, weight.shape, "input [B, Cin, H, W], weight [Cout, Cin, kh, kw]"))
        checkShape(shape[1] == weight.shape[1], "conv2d", shape, weight.shape, "input has \(shape[1]) channels, weight expects \(weight.shape[1])")
        precondition(stride >= 1 && padding >= 0, "conv2d: stride must be >= 1 and padding >= 0, found \(stride), \(padding)")
        let outChannels = weight.shape[0]
        if let bias { checkShape(bias.shape == [outChannels], "conv2d", weight.shape, bias.shape, "bias must be [Cout]") }
        let g = ConvGeometry(batch: shape[0], channels: shape[1], height: shape[2], width: shape[3],
                             kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride, padding: padding)
        precondition(g.outputHeight > 0 && g.outputWidth > 0,
                     shapeMismatchMessage("conv2d", shape, weight.shape, "the kernel does not fit the padded input"))
        let plane = g.outputHeight * g.outputWidth
        let columns = data.withUnsafeBufferPointer { x in
            uninitializedFloats(g.columnRows * g.columnCount) { col in im2col(g, image: x.baseAddress!, columns: col.baseAddress!) }
        }
        let channelMajor = weight.data.withUnsafeBufferPointer { w in
            columns.withUnsafeBufferPointer { col in
                uninitializedFloats(outChannels * g.columnCount) { cm in
                    gemm(transposeA: false, transposeB: false, m: outChannels, n: g.columnCount, k: g.columnRows,
                         a: w.baseAddress!, lda: g.columnRows, b: col.baseAddress!, ldb: g.columnCount,
                         beta: 0, c: cm.baseAddress!, ldc: g.columnCount)
                }
            }
        }
        let out = channelMajor.withUnsafeBufferPointer { cm in
            uninitializedFloats(g.batch * outChannels * plane) { o in
                withBias(bias) { bp in
                    channelMajorToBatch(cm.baseAddress!, o.baseAddress!, batch: g.batch, channels: outChannels, plane: plane, bias: bp)
                }
            }
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return Tensor.recorded("conv2d", shape: [g.batch, outChannels, g.outputHeight, g.outputWidth], data: out, inputs: inputs) { r in
            let grad = r.grad!
            let gradMajor = grad.withUnsafeBufferPointer { gp in
                uninitializedFloats(outChannels * g.columnCount) { gm in
                    batchToChannelMajor(gp.baseAddress!, gm.baseAddress!, batch: g.batch, channels: outChannels, plane: plane)
                }
            }
            gradMajor.withUnsafeBufferPointer { gm in
                if weight.requiresGrad {
                    columns.withUnsafeBufferPointer { col in
                        weight.accumulateInPlace { gw in
                            gemm(transposeA: false, transposeB: true, m: outChannels, n: g.columnRows, k: g.columnCount,
                                 a: gm.baseAddress!, lda: g.columnCount, b: col.baseAddress!, ldb: g.columnCount,
                                 beta: 1, c: gw.baseAddress!, ldc: g.columnRows)
                        }
                    }
                }
                if self.requiresGrad {
                    let gradColumns = weight.data.withUnsafeBufferPointer { w in
                        uninitializedFloats(g.columnRows * g.columnCount) { gc in
                            gemm(transposeA: true, transposeB: false, m: g.columnRows, n: g.columnCount, k: outChannels,
                                 a: w.baseAddress!, lda: g.columnRows, b: gm.baseAddress!, ldb: g.columnCount,
                                 beta: 0, c: gc.baseAddress!, ldc: g.columnCount)
                        }
                    }
                    gradColumns.withUnsafeBufferPointer { gc in
                        self.accumulateInPlace { gx, fresh in
                            col2im(g, columns: gc.baseAddress!, image: gx.baseAddress!, overwrite: fresh)
                        }
                    }
                }
            }
            if let bias, bias.requiresGrad {
                accumulateChannelBiasGradient(bias, grad, batch: g.batch, channels: outChannels, plane: plane)
            }
        }
    }

    /// `torch.nn.functional.conv_transpose2d`: self [B, Cin, H, W], weight [Cin, Cout, kh, kw], bias [Cout];
    /// output size (H - 1) * stride - 2 * padding + kh + outputPadding.
    public func convTranspose2d(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0) -> Tensor {
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
        let plane = height * width
        let inputMajor = data.withUnsafeBufferPointer { x in
            uninitializedFloats(inChannels * g.columnCount) { im in
                batchToChannelMajor(x.baseAddress!, im.baseAddress!, batch: batch, channels: inChannels, plane: plane)
            }
        }
        var out = uninitializedFloats(batch * outChannels * outHeight * outWidth) { _ in }  // col2im overwrites it
        do {
            let columns = weight.data.withUnsafeBufferPointer { w in
                inputMajor.withUnsafeBufferPointer { im in
                    uninitializedFloats(g.columnRows * g.columnCount) { col in
                        gemm(transposeA: true, transposeB: false, m: g.columnRows, n: g.columnCount, k: inChannels,
                             a: w.baseAddress!, lda: g.columnRows, b: im.baseAddress!, ldb: g.columnCount,
                             beta: 0, c: col.baseAddress!, ldc: g.columnCount)
                    }
                }
            }
            columns.withUnsafeBufferPointer { col in
                out.withUnsafeMutableBufferPointer { o in
                    withBias(bias) { bp in col2im(g, columns: col.baseAddress!, image: o.baseAddress!, overwrite: true, bias: bp) }
                }
            }
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return Tensor.recorded("conv_transpose2d", shape: [batch, outChannels, outHeight, outWidth], data: out, inputs: inputs) { r in
            let grad = r.grad!
            let columns = grad.withUnsafeBufferPointer { gp in
                uninitializedFloats(g.columnRows * g.columnCount) { col in im2col(g, image: gp.baseAddress!, columns: col.baseAddress!) }
            }
            columns.withUnsafeBufferPointer { col in
                if weight.requiresGrad {
                    inputMajor.withUnsafeBufferPointer { im in
                        weight.accumulateInPlace { gw in
                            gemm(transposeA: false, transposeB: true, m: inChannels, n: g.columnRows, k: g.columnCount,
                                 a: im.baseAddress!, lda: g.columnCount, b: col.baseAddress!, ldb: g.columnCount,
                                 beta: 1, c: gw.baseAddress!, ldc: g.columnRows)
                        }
                    }
                }
                if self.requiresGrad {
                    let gradMajor = weight.data.withUnsafeBufferPointer { w in
                        uninitializedFloats(inChannels * g.columnCount) { gm in
                            gemm(transposeA: false, transposeB: false, m: inChannels, n: g.columnCount, k: g.columnRows,
                                 a: w.baseAddress!, lda: g.columnRows, b: col.baseAddress!, ldb: g.columnCount,
                                 beta: 0, c: gm.baseAddress!, ldc: g.columnCount)
                        }
                    }
                    gradMajor.withUnsafeBufferPointer { gm in
                        self.accumulate(uninitializedFloats(self.count) { l in
                            channelMajorToBatch(gm.baseAddress!, l.baseAddress!, batch: batch, channels: inChannels, plane: plane)
                        })
                    }
                }
            }
            if let bias, bias.requiresGrad {
                accumulateChannelBiasGradient(bias, grad, batch: batch, channels: outChannels, plane: outHeight * outWidth)
            }
        }
    }
}

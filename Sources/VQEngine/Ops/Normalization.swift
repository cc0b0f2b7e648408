import Foundation

/// Layer norm and group norm: normalise groups of elements to zero mean and unit (biased) variance, then
/// scale and shift. Both share one kernel over [rows, width] with per-row statistics; they differ only in
/// which elements form a row and how the affine parameters are laid out.

private struct RowStatistics { var mean: [Float]; var inverseStd: [Float] }

/// Rows normalised to zero mean and unit variance, then `y = xhat * weight[j] + bias[j]` per column j when
/// both affine vectors are given (of length width). Returns (xhat, y, statistics); y is xhat without affine.
private func normalizeRows(_ x: [Float], rows: Int, width: Int, eps: Float,
                           weight: UnsafePointer<Float>? = nil, bias: UnsafePointer<Float>? = nil)
    -> ([Float], [Float], RowStatistics) {
    var stats = RowStatistics(mean: [Float](repeating: 0, count: rows), inverseStd: [Float](repeating: 0, count: rows))
    let affine = weight != nil && bias != nil
    var out: [Float] = affine ? uninitializedFloats(x.count) { _ in } : []
    let xhat = x.withUnsafeBufferPointer { xs in
        uninitializedFloats(x.count) { o in
            stats.mean.withUnsafeMutableBufferPointer { meanOut in
                stats.inverseStd.withUnsafeMutableBufferPointer { invOut in
                    out.withUnsafeMutableBufferPointer { yp in
                        let xs = xs.baseAddress!, o = o.baseAddress!, y = affine ? yp.baseAddress : nil
                        parallelRanges(rows, minimumPerThread: Swift.max(1, 16_384 / Swift.max(width, 1))) { range in
                            for r in range {
                                let row = xs + r * width, xh = o + r * width
                                var sums = FloatVector(repeating: 0)
                                @inline(__always) func vectorStep1(_ j: Int, _ n: Int) { sums += loadVector(row + j, count: n) }
                                forEachVector(in: 0..<width, vectorStep1)
                                let mean = horizontalSum(sums) / Float(width)
                                var squares = FloatVector(repeating: 0)
                                @inline(__always) func vectorStep2(_ j: Int, _ n: Int) {
                                    let d = loadVector(row + j, count: n) - mean
                                    squares += d.replacing(with: 0, where: SIMD16<Int32>(0..<16) .>= Int32(n)) * d
                                }
                                forEachVector(in: 0..<width, vectorStep2)
                                let inv = 1 / Foundation.sqrt(horizontalSum(squares) / Float(width) + eps)
                                @inline(__always) func vectorStep3(_ j: Int, _ n: Int) {
                                    let h = (loadVector(row + j, count: n) - mean) * inv
                                    storeVector(h, xh + j, count: n)
                                    if let y, let weight, let bias {
                                        storeVector(h * loadVector(weight + j, count: n) + loadVector(bias + j, count: n),
                                                    y + r * width + j, count: n)
                                    }
                                }
                                forEachVector(in: 0..<width, vectorStep3)
                                meanOut[r] = mean
                                invOut[r] = inv
                            }
                        }
                    }
                }
            }
        }
    }
    return (xhat, affine ? out : xhat, stats)
}

/// dx for y = xhat (per row), with the upstream gradient g scaled per column by `weight` when given:
/// gy = g * w; dx = inv * (gy - mean(gy) - xhat * mean(gy * xhat)). Writes (fresh) or adds into gx.
private func normalizeRowsBackward(_ g: UnsafePointer<Float>, _ xhat: [Float], _ stats: RowStatistics, rows: Int, width: Int,
                                   weight: UnsafePointer<Float>? = nil,
                                   into gx: UnsafeMutablePointer<Float>, fresh: Bool) {
    xhat.withUnsafeBufferPointer { xh in
        stats.inverseStd.withUnsafeBufferPointer { inverseStd in
            let xh = xh.baseAddress!
            parallelRanges(rows, minimumPerThread: Swift.max(1, 16_384 / Swift.max(width, 1))) { range in
                for r in range {
                    let base = r * width
                    @inline(__always) func gy(_ j: Int, _ n: Int) -> FloatVector {
                        let v = loadVector(g + base + j, count: n)
                        if let weight { return v * loadVector(weight + j, count: n) }
                        return v
                    }
                    var sg = FloatVector(repeating: 0), sgx = FloatVector(repeating: 0)
                    @inline(__always) func vectorStep4(_ j: Int, _ n: Int) {
                        let v = gy(j, n)
                        sg += v
                        sgx += v * loadVector(xh + base + j, count: n)
                    }
                    forEachVector(in: 0..<width, vectorStep4)
                    let mg = horizontalSum(sg) / Float(width), mgx = horizontalSum(sgx) / Float(width), inv = inverseStd[r]
                    @inline(__always) func vectorStep5(_ j: Int, _ n: Int) {
                        var d = inv * (gy(j, n) - mg - loadVector(xh + base + j, count: n) * mgx)
                        if !fresh { d += loadVector(gx + base + j, count: n) }
                        storeVector(d, gx + base + j, count: n)
                    }
                    forEachVector(in: 0..<width, vectorStep5)
                }
            }
        }
    }
}

extension Tensor {
    /// `F.layer_norm` over the last axis, with optional weight and bias of that axis's size.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        precondition(rank >= 1, "layer_norm: needs rank >= 1, found shape \(shape)")
        let width = shape[rank - 1], rows = count / Swift.max(width, 1)
        if let weight { checkShape(weight.shape == [width], "layer_norm", shape, weight.shape, "weight must be [\(width)]") }
        if let bias { checkShape(bias.shape == [width], "layer_norm", shape, bias.shape, "bias must be [\(width)]") }
        let w = weight?.data ?? [Float](repeating: 1, count: width), b = bias?.data ?? [Float](repeating: 0, count: width)
        let plain = weight == nil && bias == nil
        let (xhat, out, stats) = w.withUnsafeBufferPointer { wp in
            b.withUnsafeBufferPointer { bp in
                normalizeRows(data, rows: rows, width: width, eps: eps,
                              weight: plain ? nil : wp.baseAddress, bias: plain ? nil : bp.baseAddress)
            }
        }
        let inputs = [self] + [weight, bias].compactMap { $0 }
        return Tensor.recorded("layer_norm", shape: shape, data: out, inputs: inputs) { r in
            let g = r.grad!
            g.withUnsafeBufferPointer { gp in
                xhat.withUnsafeBufferPointer { xh in
                    let gp = gp.baseAddress!, xh = xh.baseAddress!
                    // Column sums over rows, rows in order (the same order on any thread count).
                    if let weight, weight.requiresGrad {
                        weight.accumulateInPlace { gw in addColumnSums(gp, times: xh, count: rows, width: width, into: gw.baseAddress!) }
                    }
                    if let bias, bias.requiresGrad {
                        bias.accumulateInPlace { gb in addColumnSums(gp, count: rows, width: width, into: gb.baseAddress!) }
                    }
                    if self.requiresGrad {
                        w.withUnsafeBufferPointer { wp in
                            self.accumulateInPlace { gx, fresh in
                                normalizeRowsBackward(gp, xhat, stats, rows: rows, width: width,
                                                      weight: weight == nil ? nil : wp.baseAddress,
                                                      into: gx.baseAddress!, fresh: fresh)
                            }
                        }
                    }
                }
            }
        }
    }

    /// `F.group_norm` for [B, C, ...]: statistics over each group of C / groups channels and all positions;
    /// weight and bias are per channel.
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        precondition(rank >= 2, "group_norm: needs [B, C, ...], found shape \(shape)")
        let batch = shape[0], channels = shape[1], plane = shape[2...].reduce(1, *)
        precondition(groups >= 1 && channels % groups == 0, "group_norm: \(channels) channels cannot form \(groups) groups")
        if let weight { checkShape(weight.shape == [channels], "group_norm", shape, weight.shape, "weight must be [\(channels)]") }
        if let bias { checkShape(bias.shape == [channels], "group_norm", shape, bias.shape, "bias must be [\(channels)]") }
        let rows = batch * groups, width = channels / groups * plane
        let (xhat, _, stats) = normalizeRows(data, rows: rows, width: width, eps: eps)
        let w = weight?.data ?? [Float](repeating: 1, count: channels), b = bias?.data ?? [Float](repeating: 0, count: channels)
        // Per (image, channel) plane: y = xhat * w[c] + b[c].
        let out = weight == nil && bias == nil ? xhat : xhat.withUnsafeBufferPointer { xh in
            uninitializedFloats(xhat.count) { o in
                let xh = xh.baseAddress!, o = o.baseAddress!
                parallelRanges(batch * channels, minimumPerThread: Swift.max(1, 16_384 / Swift.max(plane, 1))) { planes in
                    for p in planes {
                        let scale = w[p % channels], shift = b[p % channels]
                        @inline(__always) func vectorStep8(_ i: Int, _ n: Int) {
                            storeVector(loadVector(xh + i, count: n) * scale + shift, o + i, count: n)
                        }
                        forEachVector(in: (p * plane)..<((p + 1) * plane), vectorStep8)
                    }
                }
            }
        }
        let inputs = [self] + [weight, bias].compactMap { $0 }
        return Tensor.recorded("group_norm", shape: shape, data: out, inputs: inputs) { r in
            let g = r.grad!
            g.withUnsafeBufferPointer { gp in
                xhat.withUnsafeBufferPointer { xh in
                    let gp = gp.baseAddress!, xh = xh.baseAddress!
                    // Per channel, images in order and positions in order within a plane.
                    if let weight, weight.requiresGrad {
                        weight.accumulateInPlace { gw in
                            for p in 0..<(batch * channels) {
                                var s: Float = 0
                                for i in (p * plane)..<((p + 1) * plane) { s += gp[i] * xh[i] }
                                gw[p % channels] += s
                            }
                        }
                    }
                    if let bias, bias.requiresGrad {
                        bias.accumulateInPlace { gb in
                            for p in 0..<(batch * channels) {
                                var s: Float = 0
                                for i in (p * plane)..<((p + 1) * plane) { s += gp[i] }
                                gb[p % channels] += s
                            }
                        }
                    }
                    if self.requiresGrad {
                        let gy = weight == nil ? g : uninitializedFloats(g.count) { o in
                            for p in 0..<(batch * channels) {
                                let scale = w[p % channels]
                                for i in (p * plane)..<((p + 1) * plane) { o[i] = gp[i] * scale }
                            }
                        }
                        gy.withUnsafeBufferPointer { gyp in
                            self.accumulateInPlace { gx, fresh in
                                normalizeRowsBackward(gyp.baseAddress!, xhat, stats, rows: rows, width: width,
                                                      into: gx.baseAddress!, fresh: fresh)
                            }
                        }
                    }
                }
            }
        }
    }
}

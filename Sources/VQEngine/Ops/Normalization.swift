import Foundation

/// Layer norm and group norm: normalise groups of elements to zero mean and unit (biased) variance, then
/// scale and shift. Both share one kernel over [rows, width] with per-row statistics; they differ only in
/// which elements form a row and how the affine parameters are laid out.

private struct RowStatistics { var mean: [Float]; var inverseStd: [Float] }

private func normalizeRows(_ x: [Float], rows: Int, width: Int, eps: Float) -> ([Float], RowStatistics) {
    var xhat = [Float](repeating: 0, count: x.count)
    var stats = RowStatistics(mean: [Float](repeating: 0, count: rows), inverseStd: [Float](repeating: 0, count: rows))
    x.withUnsafeBufferPointer { xs in
        xhat.withUnsafeMutableBufferPointer { o in
            for r in 0..<rows {
                let base = r * width
                var s: Float = 0
                for j in 0..<width { s += xs[base + j] }
                let mean = s / Float(width)
                var v: Float = 0
                for j in 0..<width { let d = xs[base + j] - mean; v += d * d }
                let inv = 1 / Foundation.sqrt(v / Float(width) + eps)
                for j in 0..<width { o[base + j] = (xs[base + j] - mean) * inv }
                stats.mean[r] = mean
                stats.inverseStd[r] = inv
            }
        }
    }
    return (xhat, stats)
}

/// dx for y = xhat (per row): inv * (g - mean(g) - xhat * mean(g * xhat)).
private func normalizeRowsBackward(_ g: [Float], _ xhat: [Float], _ stats: RowStatistics, rows: Int, width: Int,
                                   into gx: UnsafeMutableBufferPointer<Float>) {
    g.withUnsafeBufferPointer { gp in
        xhat.withUnsafeBufferPointer { xh in
            parallelRanges(rows, minimumPerThread: Swift.max(1, 16_384 / Swift.max(width, 1))) { range in
                for r in range {
                    let base = r * width
                    var sg: Float = 0, sgx: Float = 0
                    for j in 0..<width { sg += gp[base + j]; sgx += gp[base + j] * xh[base + j] }
                    let mg = sg / Float(width), mgx = sgx / Float(width), inv = stats.inverseStd[r]
                    for j in 0..<width { gx[base + j] += inv * (gp[base + j] - mg - xh[base + j] * mgx) }
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
        let (xhat, stats) = normalizeRows(data, rows: rows, width: width, eps: eps)
        let w = weight?.data ?? [Float](repeating: 1, count: width), b = bias?.data ?? [Float](repeating: 0, count: width)
        let out = weight == nil && bias == nil ? xhat : xhat.withUnsafeBufferPointer { xh in
            uninitializedFloats(xhat.count) { o in
                for r in 0..<rows {
                    let base = r * width
                    for j in 0..<width { o[base + j] = xh[base + j] * w[j] + b[j] }
                }
            }
        }
        let inputs = [self] + [weight, bias].compactMap { $0 }
        return Tensor.recorded("layer_norm", shape: shape, data: out, inputs: inputs) { r in
            let g = r.grad!
            g.withUnsafeBufferPointer { gp in
                xhat.withUnsafeBufferPointer { xh in
                    if let weight, weight.requiresGrad {
                        weight.accumulateInPlace { gw in
                            for r in 0..<rows { for j in 0..<width { gw[j] += gp[r * width + j] * xh[r * width + j] } }
                        }
                    }
                    if let bias, bias.requiresGrad {
                        bias.accumulateInPlace { gb in
                            for r in 0..<rows { for j in 0..<width { gb[j] += gp[r * width + j] } }
                        }
                    }
                    if self.requiresGrad {
                        let gy = weight == nil ? g : uninitializedFloats(g.count) { o in
                            w.withUnsafeBufferPointer { wp in
                                for r in 0..<rows { for j in 0..<width { o[r * width + j] = gp[r * width + j] * wp[j] } }
                            }
                        }
                        self.accumulateInPlace { gx in normalizeRowsBackward(gy, xhat, stats, rows: rows, width: width, into: gx) }
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
        let (xhat, stats) = normalizeRows(data, rows: rows, width: width, eps: eps)
        var out = xhat
        let channelOf = { (i: Int) in (i / plane) % channels }
        if weight != nil || bias != nil {
            for i in 0..<out.count {
                let c = channelOf(i)
                out[i] = xhat[i] * (weight?.data[c] ?? 1) + (bias?.data[c] ?? 0)
            }
        }
        let inputs = [self] + [weight, bias].compactMap { $0 }
        return Tensor.recorded("group_norm", shape: shape, data: out, inputs: inputs) { r in
            let g = r.grad!
            if let weight, weight.requiresGrad {
                weight.accumulateInPlace { gw in for i in 0..<g.count { gw[channelOf(i)] += g[i] * xhat[i] } }
            }
            if let bias, bias.requiresGrad {
                bias.accumulateInPlace { gb in for i in 0..<g.count { gb[channelOf(i)] += g[i] } }
            }
            if self.requiresGrad {
                var gy = g
                if let weight { for i in 0..<gy.count { gy[i] *= weight.data[channelOf(i)] } }
                self.accumulateInPlace { gx in normalizeRowsBackward(gy, xhat, stats, rows: rows, width: width, into: gx) }
            }
        }
    }
}

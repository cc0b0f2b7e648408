import Foundation

/// Loss functions, with PyTorch's reductions and numerics.
public enum Reduction: Sendable { case mean, sum }

private func reduced(_ elementwise: Tensor, _ reduction: Reduction) -> Tensor {
    reduction == .mean ? elementwise.mean() : elementwise.sum()
}

/// Mean (or summed) squared error, `F.mse_loss`.
public func mseLoss(_ prediction: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
    checkShape(prediction.shape == target.shape, "mse_loss", prediction.shape, target.shape)
    return reduced((prediction - target).squared(), reduction)
}

/// Binary cross-entropy on probabilities, `F.binary_cross_entropy`: logs are clamped at -100 as PyTorch does.
public func binaryCrossEntropy(_ probability: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
    checkShape(probability.shape == target.shape, "binary_cross_entropy", probability.shape, target.shape)
    let p = probability.data, t = target.data
    var out = [Float](repeating: 0, count: p.count)
    for i in 0..<p.count {
        let logP = Swift.max(Foundation.log(p[i]), -100), log1mP = Swift.max(Foundation.log(1 - p[i]), -100)
        out[i] = -(t[i] * logP + (1 - t[i]) * log1mP)
    }
    let elementwise = Tensor.recorded("binary_cross_entropy", shape: p.isEmpty ? [0] : probability.shape, data: out,
                                      inputs: [probability, target]) { r in
        let g = r.grad!
        // PyTorch's derivative: (p - t) / max((1 - p) p, eps) with eps 1e-12.
        probability.accumulateInPlace { gp in
            for i in 0..<g.count { gp[i] += g[i] * (p[i] - t[i]) / Swift.max((1 - p[i]) * p[i], 1e-12) }
        }
        target.accumulateInPlace { gt in
            for i in 0..<g.count { gt[i] += g[i] * (Swift.max(Foundation.log(1 - p[i]), -100) - Swift.max(Foundation.log(p[i]), -100)) }
        }
    }
    return reduced(elementwise, reduction)
}

/// Binary cross-entropy on logits, `F.binary_cross_entropy_with_logits`: max(x, 0) - x t + log(1 + e^-|x|).
public func binaryCrossEntropyWithLogits(_ logits: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
    checkShape(logits.shape == target.shape, "binary_cross_entropy_with_logits", logits.shape, target.shape)
    let x = logits.data, t = target.data
    var out = [Float](repeating: 0, count: x.count)
    for i in 0..<x.count { out[i] = Swift.max(x[i], 0) - x[i] * t[i] + Foundation.log1p(Foundation.exp(-Swift.abs(x[i]))) }
    let elementwise = Tensor.recorded("binary_cross_entropy_with_logits", shape: logits.shape, data: out, inputs: [logits, target]) { r in
        let g = r.grad!
        logits.accumulateInPlace { gx in for i in 0..<g.count { gx[i] += g[i] * (1 / (1 + Foundation.exp(-x[i])) - t[i]) } }
        target.accumulateInPlace { gt in for i in 0..<g.count { gt[i] += -g[i] * x[i] } }
    }
    return reduced(elementwise, reduction)
}

/// Cross-entropy of logits [N, C] against class indices (N of them), `F.cross_entropy`. One fused op:
/// loss_r = -((x[r, t_r] - m_r) - log(sum_j e^(x[r, j] - m_r))) with m_r the row maximum, and the backward
/// (p - onehot) times the upstream gradient (over N for the mean), recomputing p from the kept row
/// statistics instead of storing the [N, C] log-probabilities.
public func crossEntropy(_ logits: Tensor, targets: [Int], reduction: Reduction = .mean) -> Tensor {
    precondition(logits.rank == 2, "cross_entropy: logits must be [N, C], found shape \(logits.shape)")
    let n = logits.shape[0], classes = logits.shape[1]
    precondition(targets.count == n, "cross_entropy: \(n) rows of logits but \(targets.count) targets")
    for t in targets { precondition(t >= 0 && t < classes, "cross_entropy: target \(t) is outside 0..<\(classes)") }
    if reduction == .mean { precondition(n > 0, "mean: tensor of shape [0] is empty") }
    var maxima = [Float](repeating: 0, count: n), inverseTotals = [Float](repeating: 0, count: n)
    var losses = [Float](repeating: 0, count: n)
    let rowsPerThread = Swift.max(1, 16_384 / Swift.max(classes, 1))
    logits.data.withUnsafeBufferPointer { xp in
        maxima.withUnsafeMutableBufferPointer { mp in
            inverseTotals.withUnsafeMutableBufferPointer { ip in
                losses.withUnsafeMutableBufferPointer { lp in
                    let x = xp.baseAddress!
                    parallelRanges(n, minimumPerThread: rowsPerThread) { range in
                        for r in range {
                            let (m, total) = rowMaxAndExpSum(x + r * classes, width: classes)
                            mp[r] = m
                            ip[r] = 1 / total
                            lp[r] = -((x[r * classes + targets[r]] - m) - Foundation.log(total))
                        }
                    }
                }
            }
        }
    }
    // Summed in row order, as the unfused sum() did, so the result is the same on any thread count.
    var total: Float = 0
    for v in losses { total += v }
    let scale: Float = reduction == .mean ? 1 / Float(n) : 1
    return Tensor.recorded("cross_entropy", shape: [], data: [total * scale], inputs: [logits]) { r in
        let coefficient = r.grad![0] * scale
        logits.accumulateInPlace { gx, fresh in
            logits.data.withUnsafeBufferPointer { xp in
                let x = xp.baseAddress!, gx = gx.baseAddress!
                parallelRanges(n, minimumPerThread: rowsPerThread) { range in
                    for row in range {
                        let base = row * classes, m = maxima[row], inv = inverseTotals[row]
                        @inline(__always) func vectorStep1(_ j: Int, _ lanes: Int) {
                            let p = vectorExp(loadVector(x + j, count: lanes) - m) * inv
                            var d = p * coefficient
                            if !fresh { d += loadVector(gx + j, count: lanes) }
                            storeVector(d, gx + j, count: lanes)
                        }
                        forEachVector(in: base..<(base + classes), vectorStep1)
                        gx[base + targets[row]] -= coefficient
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// Picks element `indices[r]` of row r of a [N, C] tensor, giving [N].
    public func gather(rows indices: [Int]) -> Tensor {
        precondition(rank == 2 && indices.count == shape[0], "gather: needs [N, C] and N indices, found shape \(shape) and \(indices.count)")
        let width = shape[1]
        let out = indices.enumerated().map { data[$0.offset * width + $0.element] }
        return Tensor.recorded("gather", shape: [indices.count], data: out, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gx in for (row, index) in indices.enumerated() { gx[row * width + index] += g[row] } }
        }
    }
}

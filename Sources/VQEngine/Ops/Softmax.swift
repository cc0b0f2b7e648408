import Foundation

/// Softmax and log-softmax over the last axis, computed stably (shifted by the row maximum).

/// Row-wise softmax of [rows, width], and the log-softmax when `log` is set (then the probabilities are
/// returned too, for the backward pass).
private func softmaxRows(_ x: [Float], rows: Int, width: Int, log: Bool) -> (values: [Float], probabilities: [Float]) {
    var logs: [Float] = []
    let probabilities = x.withUnsafeBufferPointer { xs in
        uninitializedFloats(x.count) { o in
            if log { logs = [Float](repeating: 0, count: x.count) }
            logs.withUnsafeMutableBufferPointer { l in
                parallelRanges(rows, minimumPerThread: Swift.max(1, 16_384 / Swift.max(width, 1))) { range in
                    for r in range {
                        let base = r * width
                        var m = -Float.infinity
                        for j in 0..<width { m = Swift.max(m, xs[base + j]) }
                        if m == -.infinity { m = 0 }
                        var total: Float = 0
                        for j in 0..<width {
                            let e = Foundation.exp(xs[base + j] - m)
                            o[base + j] = e
                            total += e
                        }
                        let inv = 1 / total
                        for j in 0..<width { o[base + j] *= inv }
                        if log {
                            let lse = Foundation.log(total)
                            for j in 0..<width { l[base + j] = xs[base + j] - m - lse }
                        }
                    }
                }
            }
        }
    }
    return (log ? logs : probabilities, probabilities)
}

extension Tensor {
    /// Softmax over the last axis.
    public func softmax() -> Tensor {
        precondition(rank >= 1, "softmax: needs rank >= 1, found shape \(shape)")
        let width = shape[rank - 1], rows = count / Swift.max(width, 1)
        let y = softmaxRows(data, rows: rows, width: width, log: false).values
        return Tensor.recorded("softmax", shape: shape, data: y, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gx in
                for row in 0..<rows {
                    let base = row * width
                    var dot: Float = 0
                    for j in 0..<width { dot += g[base + j] * y[base + j] }
                    for j in 0..<width { gx[base + j] += y[base + j] * (g[base + j] - dot) }
                }
            }
        }
    }

    /// Log-softmax over the last axis.
    public func logSoftmax() -> Tensor {
        precondition(rank >= 1, "log_softmax: needs rank >= 1, found shape \(shape)")
        let width = shape[rank - 1], rows = count / Swift.max(width, 1)
        let (y, p) = softmaxRows(data, rows: rows, width: width, log: true)
        return Tensor.recorded("log_softmax", shape: shape, data: y, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gx in
                g.withUnsafeBufferPointer { gp in
                    p.withUnsafeBufferPointer { pp in
                        for row in 0..<rows {
                            let base = row * width
                            var total: Float = 0
                            for j in 0..<width { total += gp[base + j] }
                            for j in 0..<width { gx[base + j] += gp[base + j] - pp[base + j] * total }
                        }
                    }
                }
            }
        }
    }

    /// Sets entries above the diagonal of the last two axes (key after query) to -infinity, for causal
    /// attention scores [..., T, T]. Masked entries pass no gradient.
    public func causallyMasked() -> Tensor {
        precondition(rank >= 2 && shape[rank - 1] == shape[rank - 2], "causal_mask: needs [..., T, T], found shape \(shape)")
        let t = shape[rank - 1], blocks = count / Swift.max(t * t, 1)
        var out = data
        for b in 0..<blocks { for i in 0..<t { for j in (i + 1)..<Swift.max(t, i + 1) { out[b * t * t + i * t + j] = -.infinity } } }
        return Tensor.recorded("causal_mask", shape: shape, data: out, inputs: [self]) { r in
            var g = r.grad!
            for b in 0..<blocks { for i in 0..<t { for j in (i + 1)..<Swift.max(t, i + 1) { g[b * t * t + i * t + j] = 0 } } }
            self.accumulate(g)
        }
    }
}

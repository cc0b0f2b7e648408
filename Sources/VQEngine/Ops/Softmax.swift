import CKernels
import Foundation

/// Softmax and log-softmax over the last axis, computed stably (shifted by the row maximum).

/// Row-wise softmax of [rows, width], and the log-softmax when `log` is set (then the probabilities are
/// returned too, for the backward pass).
private func softmaxRows(_ x: [Float], rows: Int, width: Int, log: Bool) -> (values: [Float], probabilities: [Float]) {
    var logs: [Float] = []
    let probabilities = x.withUnsafeBufferPointer { xs in
        uninitializedFloats(x.count) { o in
            if log { logs = uninitializedFloats(x.count) { _ in } }
            logs.withUnsafeMutableBufferPointer { l in
                let xs = xs.baseAddress!, o = o.baseAddress!, l = log ? l.baseAddress : nil
                parallelRanges(rows, minimumPerThread: Swift.max(1, 16_384 / Swift.max(width, 1))) { range in
                    for r in range {
                        let (m, total) = softmaxRow(xs + r * width, width: width, into: o + r * width)
                        if let l {
                            let lse = m + Foundation.log(total)
                            @inline(__always) func vectorStep1(_ j: Int, _ n: Int) {
                                storeVector(loadVector(xs + r * width + j, count: n) - lse, l + r * width + j, count: n)
                            }
                            forEachVector(in: 0..<width, vectorStep1)
                        }
                    }
                }
            }
        }
    }
    return (log ? logs : probabilities, probabilities)
}

/// The maximum of x[0..<width], or 0 when the row is all -infinity (a fully masked row), so x - max stays finite.
@inline(__always)
private func rowMaximum(_ x: UnsafePointer<Float>, width: Int) -> Float {
    var lanes = FloatVector(repeating: -.infinity)
    @inline(__always) func maxStep(_ j: Int, _ n: Int) {
        let v = loadVector(x + j, count: n, padding: -.infinity)
        lanes.replace(with: v, where: v .> lanes)
    }
    forEachVector(in: 0..<width, maxStep)
    let m = horizontalMax(lanes)
    return m == -.infinity ? 0 : m
}

/// The row maximum m of x[0..<width] (0 when the row is all -infinity) and the sum of e^(x - m).
@inline(__always)
func rowMaxAndExpSum(_ x: UnsafePointer<Float>, width: Int) -> (max: Float, total: Float) {
    if VectorUnit.hasAVX512 {
        var m: Float = 0, total: Float = 0
        vq_row_max_exp_sum_avx512(x, width, &m, &total)
        return (m, total)
    }
    let m = rowMaximum(x, width: width)
    var sums = FloatVector(repeating: 0)
    @inline(__always) func vectorStep3(_ j: Int, _ n: Int) { sums += vectorExp(loadVector(x + j, count: n, padding: -.infinity) - m) }
    forEachVector(in: 0..<width, vectorStep3)
    return (m, horizontalSum(sums))
}

/// Writes softmax(x[0..<width]) to `out` (which may be x); returns the row maximum and the sum of e^(x - max).
/// The exponentials are stored on the way to their sum and then scaled, so each is computed once.
@inline(__always)
func softmaxRow(_ x: UnsafePointer<Float>, width: Int, into out: UnsafeMutablePointer<Float>) -> (Float, Float) {
    if VectorUnit.hasAVX512 {
        var m: Float = 0, total: Float = 0
        vq_softmax_row_avx512(x, width, out, &m, &total)
        return (m, total)
    }
    let m = rowMaximum(x, width: width)
    var sums = FloatVector(repeating: 0)
    @inline(__always) func expStep(_ j: Int, _ n: Int) {
        let e = vectorExp(loadVector(x + j, count: n, padding: -.infinity) - m)
        sums += e
        storeVector(e, out + j, count: n)
    }
    forEachVector(in: 0..<width, expStep)
    let total = horizontalSum(sums), inv = 1 / total
    @inline(__always) func scaleStep(_ j: Int, _ n: Int) { storeVector(loadVector(out + j, count: n) * inv, out + j, count: n) }
    forEachVector(in: 0..<width, scaleStep)
    return (m, total)
}

extension Tensor {
    /// Softmax over the last axis.
    public func softmax() -> Tensor {
        precondition(rank >= 1, "softmax: needs rank >= 1, found shape \(shape)")
        let width = shape[rank - 1], rows = count / Swift.max(width, 1)
        let y = softmaxRows(data, rows: rows, width: width, log: false).values
        return Tensor.recorded("softmax", shape: shape, data: y, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gx, fresh in
                g.withUnsafeBufferPointer { gp in
                    y.withUnsafeBufferPointer { yp in
                        let gp = gp.baseAddress!, yp = yp.baseAddress!, gx = gx.baseAddress!
                        parallelRanges(rows, minimumPerThread: Swift.max(1, 16_384 / Swift.max(width, 1))) { range in
                            for row in range {
                                let base = row * width
                                var dots = FloatVector(repeating: 0)
                                @inline(__always) func vectorStep5(_ j: Int, _ n: Int) {
                                    dots += loadVector(gp + j, count: n) * loadVector(yp + j, count: n)
                                }
                                forEachVector(in: base..<(base + width), vectorStep5)
                                let dot = horizontalSum(dots)
                                @inline(__always) func vectorStep6(_ j: Int, _ n: Int) {
                                    var d = loadVector(yp + j, count: n) * (loadVector(gp + j, count: n) - dot)
                                    if !fresh { d += loadVector(gx + j, count: n) }
                                    storeVector(d, gx + j, count: n)
                                }
                                forEachVector(in: base..<(base + width), vectorStep6)
                            }
                        }
                    }
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
            self.accumulateInPlace { gx, fresh in
                g.withUnsafeBufferPointer { gp in
                    p.withUnsafeBufferPointer { pp in
                        let gp = gp.baseAddress!, pp = pp.baseAddress!, gx = gx.baseAddress!
                        parallelRanges(rows, minimumPerThread: Swift.max(1, 16_384 / Swift.max(width, 1))) { range in
                            for row in range {
                                let base = row * width
                                var sums = FloatVector(repeating: 0)
                                @inline(__always) func vectorStep7(_ j: Int, _ n: Int) { sums += loadVector(gp + j, count: n) }
                                forEachVector(in: base..<(base + width), vectorStep7)
                                let total = horizontalSum(sums)
                                @inline(__always) func vectorStep8(_ j: Int, _ n: Int) {
                                    var d = loadVector(gp + j, count: n) - loadVector(pp + j, count: n) * total
                                    if !fresh { d += loadVector(gx + j, count: n) }
                                    storeVector(d, gx + j, count: n)
                                }
                                forEachVector(in: base..<(base + width), vectorStep8)
                            }
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

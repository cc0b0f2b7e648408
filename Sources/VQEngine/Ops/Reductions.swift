/// Sums, means and maxima over axes. Each reduces one axis at a time over the view [outer, axis, inner];
/// several axes compose through the tape.

private func reduceView(_ shape: [Int], _ axis: Int) -> (outer: Int, size: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
}

private func reducedShape(_ shape: [Int], _ axis: Int, keepDims: Bool) -> [Int] {
    var s = shape
    if keepDims { s[axis] = 1 } else { s.remove(at: axis) }
    return s
}

extension Tensor {
    /// The sum of every element, as a rank-0 tensor.
    public func sum() -> Tensor {
        var total: Float = 0
        data.withUnsafeBufferPointer { for v in $0 { total += v } }
        let n = count
        return Tensor.recorded("sum", shape: [], data: [total], inputs: [self]) { r in
            let g = r.grad![0]
            self.accumulateInPlace { gx in for i in 0..<n { gx[i] += g } }
        }
    }

    /// The mean of every element, as a rank-0 tensor.
    public func mean() -> Tensor {
        precondition(count > 0, "mean: tensor of shape \(shape) is empty")
        return sum() / Float(count)
    }

    /// Sums over `axes` (negative axes count from the end).
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let sorted = Set(axes.map { normalizedAxis($0, rank: rank, op: "sum") }).sorted(by: >)
        var t = self
        for axis in sorted { t = t.sum(axis: axis, keepDims: keepDims) }
        return t
    }

    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        let normalized = Set(axes.map { normalizedAxis($0, rank: rank, op: "mean") })
        let n = normalized.reduce(1) { $0 * shape[$1] }
        return sum(axes: Array(normalized), keepDims: keepDims) / Float(n)
    }

    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let axis = normalizedAxis(axis, rank: rank, op: "sum")
        let (outer, size, inner) = reduceView(shape, axis)
        var out = [Float](repeating: 0, count: outer * inner)
        data.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for a in 0..<outer {
                    for k in 0..<size {
                        let src = a * size * inner + k * inner
                        for j in 0..<inner { o[a * inner + j] += x[src + j] }
                    }
                }
            }
        }
        return Tensor.recorded("sum", shape: reducedShape(shape, axis, keepDims: keepDims), data: out, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gx in
                for a in 0..<outer {
                    for k in 0..<size {
                        let dst = a * size * inner + k * inner
                        for j in 0..<inner { gx[dst + j] += g[a * inner + j] }
                    }
                }
            }
        }
    }

    /// Maximum over one axis; the gradient goes to the first maximal element, as `torch.max(dim=)`.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let axis = normalizedAxis(axis, rank: rank, op: "max")
        let (outer, size, inner) = reduceView(shape, axis)
        // NaN counts as the largest value, so a NaN anywhere along the axis is the result, as in PyTorch.
        let argmax = argExtremum(axis: axis, op: "max") { v, best in v > best || (v.isNaN && !best.isNaN) }
        var out = [Float](repeating: 0, count: outer * inner)
        for a in 0..<outer {
            for j in 0..<inner { out[a * inner + j] = data[a * size * inner + argmax[a * inner + j] * inner + j] }
        }
        return Tensor.recorded("max", shape: reducedShape(shape, axis, keepDims: keepDims), data: out, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gx in
                for a in 0..<outer {
                    for j in 0..<inner { gx[a * size * inner + argmax[a * inner + j] * inner + j] += g[a * inner + j] }
                }
            }
        }
    }

    public func max(axes: [Int], keepDims: Bool = false) -> Tensor {
        let sorted = Set(axes.map { normalizedAxis($0, rank: rank, op: "max") }).sorted(by: >)
        var t = self
        for axis in sorted { t = t.max(axis: axis, keepDims: keepDims) }
        return t
    }

    /// Index of the smallest element along `axis` (ties go to the lowest index). Shape: this shape without `axis`.
    public func argmin(axis: Int) -> [Int] { argExtremum(axis: axis, op: "argmin", better: <) }

    /// Index of the largest element along `axis` (ties go to the lowest index).
    public func argmax(axis: Int) -> [Int] { argExtremum(axis: axis, op: "argmax", better: >) }

    private func argExtremum(axis: Int, op: String, better: (Float, Float) -> Bool) -> [Int] {
        let axis = normalizedAxis(axis, rank: rank, op: op)
        let (outer, size, inner) = reduceView(shape, axis)
        precondition(size > 0, "\(op): axis \(axis) of shape \(shape) is empty")
        var result = [Int](repeating: 0, count: outer * inner)
        data.withUnsafeBufferPointer { x in
            for a in 0..<outer {
                for j in 0..<inner {
                    var best = x[a * size * inner + j], index = 0
                    for k in 1..<size {
                        let v = x[a * size * inner + k * inner + j]
                        if better(v, best) { best = v; index = k }
                    }
                    result[a * inner + j] = index
                }
            }
        }
        return result
    }
}

/// Elementwise arithmetic with broadcasting, and scalar forms.

enum BinaryOp { case add, subtract, multiply, divide }

@inline(__always)
private func apply(_ op: BinaryOp, _ x: Float, _ y: Float) -> Float {
    switch op {
    case .add: return x + y
    case .subtract: return x - y
    case .multiply: return x * y
    case .divide: return x / y
    }
}

private func binaryForward(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, name: String) -> ([Int], [Float]) {
    if a.shape == b.shape {
        let out = a.data.withUnsafeBufferPointer { x in
            b.data.withUnsafeBufferPointer { y in
                uninitializedFloats(a.count) { o in
                    parallelRanges(o.count) { range in
                        switch op {
                        case .add: for i in range { o[i] = x[i] + y[i] }
                        case .subtract: for i in range { o[i] = x[i] - y[i] }
                        case .multiply: for i in range { o[i] = x[i] * y[i] }
                        case .divide: for i in range { o[i] = x[i] / y[i] }
                        }
                    }
                }
            }
        }
        return (a.shape, out)
    }
    let shape = broadcastShape(a.shape, b.shape, op: name)
    let aStrides = broadcastStrides(a.shape, to: shape)
    let bStrides = broadcastStrides(b.shape, to: shape)
    // Runs of the innermost axis are disjoint stretches of the output, so threads take ranges of them.
    let inner = Swift.max(1, shape.last ?? 1), runCount = shape.elementCount / inner
    let out = a.data.withUnsafeBufferPointer { x in
        b.data.withUnsafeBufferPointer { y in
            uninitializedFloats(shape.elementCount) { o in
                parallelRanges(shape.isEmpty ? 1 : runCount, minimumPerThread: Swift.max(1, 16_384 / inner)) { runs in
                    forEachBroadcastRun(shape, aStrides, bStrides, runs: shape.isEmpty ? nil : runs) { oo, ao, bo, n, sa, sb in
                        if sa == 1 && sb == 1 {
                            for i in 0..<n { o[oo + i] = apply(op, x[ao + i], y[bo + i]) }
                        } else if sa == 1 {
                            let v = y[bo]
                            for i in 0..<n { o[oo + i] = apply(op, x[ao + i], v) }
                        } else if sb == 1 {
                            let v = x[ao]
                            for i in 0..<n { o[oo + i] = apply(op, v, y[bo + i]) }
                        } else {
                            let v = apply(op, x[ao], y[bo])
                            for i in 0..<n { o[oo + i] = v }
                        }
                    }
                }
            }
        }
    }
    return (shape, out)
}

/// Broadcast b's values to `shape` (used by the backward of multiply and divide).
private func expanded(_ t: Tensor, to shape: [Int]) -> [Float] {
    if t.shape == shape { return t.data }
    let strides = broadcastStrides(t.shape, to: shape)
    var out = [Float](repeating: 0, count: shape.elementCount)
    t.data.withUnsafeBufferPointer { x in
        out.withUnsafeMutableBufferPointer { o in
            forEachBroadcastRun(shape, strides, strides) { oo, xo, _, n, s, _ in
                if s == 1 { for i in 0..<n { o[oo + i] = x[xo + i] } } else { for i in 0..<n { o[oo + i] = x[xo] } }
            }
        }
    }
    return out
}

private func elementwiseProduct(_ x: [Float], _ y: [Float], scale: Float = 1) -> [Float] {
    x.withUnsafeBufferPointer { a in
        y.withUnsafeBufferPointer { b in
            uninitializedFloats(x.count) { o in
                parallelRanges(x.count) { range in for i in range { o[i] = a[i] * b[i] * scale } }
            }
        }
    }
}

public func + (a: Tensor, b: Tensor) -> Tensor {
    let (shape, out) = binaryForward(.add, a, b, name: "add")
    return Tensor.recorded("add", shape: shape, data: out, inputs: [a, b]) { result in
        let g = result.grad!
        if a.requiresGrad { a.accumulate(sumToShape(g, from: shape, to: a.shape)) }
        if b.requiresGrad { b.accumulate(sumToShape(g, from: shape, to: b.shape)) }
    }
}

public func - (a: Tensor, b: Tensor) -> Tensor {
    let (shape, out) = binaryForward(.subtract, a, b, name: "subtract")
    return Tensor.recorded("subtract", shape: shape, data: out, inputs: [a, b]) { result in
        let g = result.grad!
        if a.requiresGrad { a.accumulate(sumToShape(g, from: shape, to: a.shape)) }
        if b.requiresGrad { b.accumulate(sumToShape(g.map { -$0 }, from: shape, to: b.shape)) }
    }
}

public func * (a: Tensor, b: Tensor) -> Tensor {
    let (shape, out) = binaryForward(.multiply, a, b, name: "multiply")
    return Tensor.recorded("multiply", shape: shape, data: out, inputs: [a, b]) { result in
        let g = result.grad!
        if a.requiresGrad { a.accumulate(sumToShape(elementwiseProduct(g, expanded(b, to: shape)), from: shape, to: a.shape)) }
        if b.requiresGrad { b.accumulate(sumToShape(elementwiseProduct(g, expanded(a, to: shape)), from: shape, to: b.shape)) }
    }
}

public func / (a: Tensor, b: Tensor) -> Tensor {
    let (shape, out) = binaryForward(.divide, a, b, name: "divide")
    return Tensor.recorded("divide", shape: shape, data: out, inputs: [a, b]) { result in
        let g = result.grad!
        let bFull = expanded(b, to: shape)
        if a.requiresGrad {
            var ga = g
            for i in 0..<ga.count { ga[i] /= bFull[i] }
            a.accumulate(sumToShape(ga, from: shape, to: a.shape))
        }
        if b.requiresGrad {
            // d(a/b)/db = -a/b^2 = -out/b
            var gb = g
            for i in 0..<gb.count { gb[i] = -gb[i] * out[i] / bFull[i] }
            b.accumulate(sumToShape(gb, from: shape, to: b.shape))
        }
    }
}

public prefix func - (a: Tensor) -> Tensor { a * -1 }

public func + (a: Tensor, s: Float) -> Tensor {
    Tensor.recorded("add_scalar", shape: a.shape, data: a.data.map { $0 + s }, inputs: [a]) { r in a.accumulate(r.grad!) }
}
public func + (s: Float, a: Tensor) -> Tensor { a + s }
public func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
public func - (s: Float, a: Tensor) -> Tensor { (a * -1) + s }

public func * (a: Tensor, s: Float) -> Tensor {
    Tensor.recorded("multiply_scalar", shape: a.shape, data: a.data.map { $0 * s }, inputs: [a]) { r in
        a.accumulate(r.grad!.map { $0 * s })
    }
}
public func * (s: Float, a: Tensor) -> Tensor { a * s }
public func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }

extension Tensor {
    /// The same values with gradients blocked: `sg[x]` of the VQ-VAE loss.
    public func stopGradient() -> Tensor { detached() }

    /// Elementwise square.
    public func squared() -> Tensor { self * self }
}

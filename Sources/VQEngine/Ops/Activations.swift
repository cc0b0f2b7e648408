import CKernels
import Foundation

/// Elementwise functions. Each derivative is written in terms of the input x and the output y, so one
/// helper records them all. Always inlined, so each op's closures become straight-line loops.
@inline(__always)
private func unary(_ name: String, _ x: Tensor, forward: (Float) -> Float,
                   derivative: @escaping (_ x: Float, _ y: Float) -> Float) -> Tensor {
    let out = x.data.withUnsafeBufferPointer { src in
        uninitializedFloats(x.count) { dst in
            parallelRanges(dst.count) { range in for i in range { dst[i] = forward(src[i]) } }
        }
    }
    return Tensor.recorded(name, shape: x.shape, data: out, inputs: [x]) { result in
        let g = result.grad!
        x.accumulateInPlace { gx, fresh in
            x.data.withUnsafeBufferPointer { xs in
                out.withUnsafeBufferPointer { ys in
                    g.withUnsafeBufferPointer { gs in
                        parallelRanges(gx.count) { range in
                            if fresh {
                                for i in range { gx[i] = gs[i] * derivative(xs[i], ys[i]) }
                            } else {
                                for i in range { gx[i] += gs[i] * derivative(xs[i], ys[i]) }
                            }
                        }
                    }
                }
            }
        }
    }
}

@inline(__always) private func logistic(_ v: Float) -> Float { 1 / (1 + Foundation.exp(-v)) }

extension Tensor {
    /// max(x, 0); the gradient at 0 is 0, as in PyTorch.
    public func relu() -> Tensor {
        // v <= 0 -> 0 keeps Swift.max(v, 0)'s results exactly: -0 becomes +0, NaN stays NaN.
        let out = data.withUnsafeBufferPointer { xs in
            uninitializedFloats(count) { o in
                let x = xs.baseAddress!, o = o.baseAddress!
                parallelRanges(count) { range in
                    @inline(__always) func vectorStep(_ i: Int, _ n: Int) {
                        let v = loadVector(x + i, count: n)
                        storeVector(v.replacing(with: 0, where: v .<= 0), o + i, count: n)
                    }
                    forEachVector(in: range, vectorStep)
                }
            }
        }
        return Tensor.recorded("relu", shape: shape, data: out, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gx, fresh in
                out.withUnsafeBufferPointer { ys in
                    g.withUnsafeBufferPointer { gp in
                        let y = ys.baseAddress!, gp = gp.baseAddress!, gx = gx.baseAddress!
                        parallelRanges(self.count) { range in
                            @inline(__always) func vectorStep(_ i: Int, _ n: Int) {
                                var d = loadVector(gp + i, count: n)
                                d.replace(with: 0, where: .!(loadVector(y + i, count: n) .> 0))
                                if !fresh { d += loadVector(gx + i, count: n) }
                                storeVector(d, gx + i, count: n)
                            }
                            forEachVector(in: range, vectorStep)
                        }
                    }
                }
            }
        }
    }

    /// x for x > 0, slope * x otherwise (PyTorch's default slope 0.01).
    public func leakyRelu(slope: Float = 0.01) -> Tensor {
        unary("leaky_relu", self, forward: { $0 > 0 ? $0 : $0 * slope }, derivative: { x, _ in x > 0 ? 1 : slope })
    }

    public func sigmoid() -> Tensor {
        let out = data.withUnsafeBufferPointer { xs in
            uninitializedFloats(count) { o in
                let x = xs.baseAddress!, o = o.baseAddress!
                parallelRanges(count) { range in
                    @inline(__always) func vectorStep1(_ i: Int, _ n: Int) {
                        storeVector(1 / (1 + vectorExp(-loadVector(x + i, count: n))), o + i, count: n)
                    }
                    forEachVector(in: range, vectorStep1)
                }
            }
        }
        return Tensor.recorded("sigmoid", shape: shape, data: out, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gx, fresh in
                out.withUnsafeBufferPointer { ys in
                    g.withUnsafeBufferPointer { gp in
                        let y = ys.baseAddress!, gp = gp.baseAddress!, gx = gx.baseAddress!
                        parallelRanges(self.count) { range in
                            @inline(__always) func vectorStep2(_ i: Int, _ n: Int) {
                                let v = loadVector(y + i, count: n)
                                var d = loadVector(gp + i, count: n) * (v * (1 - v))
                                if !fresh { d += loadVector(gx + i, count: n) }
                                storeVector(d, gx + i, count: n)
                            }
                            forEachVector(in: range, vectorStep2)
                        }
                    }
                }
            }
        }
    }

    public func tanh() -> Tensor {
        unary("tanh", self, forward: { Foundation.tanh($0) }, derivative: { _, y in 1 - y * y })
    }

    /// Exact GELU: x * Phi(x) with the Gaussian CDF through erf (PyTorch's default, not the tanh form).
    /// The forward keeps the derivative Phi(x) + x phi(x) (phi from the exponential erf computes anyway), so
    /// the backward is one multiplication per element.
    public func gelu() -> Tensor {
        var slope = uninitializedFloats(count) { _ in }
        let out = data.withUnsafeBufferPointer { xs in
            slope.withUnsafeMutableBufferPointer { d in
                uninitializedFloats(count) { o in
                    let x = xs.baseAddress!, d = d.baseAddress!, o = o.baseAddress!
                    parallelRanges(self.count) { range in
                        // 16 lanes with fused multiply-adds where the CPU has AVX-512 (Swift's own code is SSE2).
                        if VectorUnit.hasAVX512 {
                            vq_gelu_avx512(x + range.lowerBound, o + range.lowerBound, d + range.lowerBound, range.count)
                            return
                        }
                        @inline(__always) func vectorStep(_ i: Int, _ n: Int) {
                            let v = loadVector(x + i, count: n)
                            let (cdf, density) = vectorGaussian(v)
                            storeVector(cdf + v * density, d + i, count: n)
                            storeVector(v * cdf, o + i, count: n)
                        }
                        forEachVector(in: range, vectorStep)
                    }
                }
            }
        }
        return Tensor.recorded("gelu", shape: shape, data: out, inputs: [self]) { r in
            let g = r.grad!
            self.accumulateInPlace { gx, fresh in
                slope.withUnsafeBufferPointer { d in
                    g.withUnsafeBufferPointer { gp in
                        let d = d.baseAddress!, gp = gp.baseAddress!, gx = gx.baseAddress!
                        parallelRanges(self.count) { range in
                            @inline(__always) func vectorStep(_ i: Int, _ n: Int) {
                                var v = loadVector(gp + i, count: n) * loadVector(d + i, count: n)
                                if !fresh { v += loadVector(gx + i, count: n) }
                                storeVector(v, gx + i, count: n)
                            }
                            forEachVector(in: range, vectorStep)
                        }
                    }
                }
            }
        }
    }

    /// x * sigmoid(x).
    public func silu() -> Tensor {
        unary("silu", self, forward: { $0 * logistic($0) }, derivative: { x, _ in
            let s = logistic(x)
            return s * (1 + x * (1 - s))
        })
    }

    /// log(1 + e^x), linear above 20 as PyTorch's default threshold.
    public func softplus() -> Tensor {
        unary("softplus", self, forward: { $0 > 20 ? $0 : Foundation.log1p(Foundation.exp($0)) },
              derivative: { x, _ in x > 20 ? 1 : logistic(x) })
    }

    public func exp() -> Tensor {
        unary("exp", self, forward: { Foundation.exp($0) }, derivative: { _, y in y })
    }

    public func log() -> Tensor {
        unary("log", self, forward: { Foundation.log($0) }, derivative: { x, _ in 1 / x })
    }

    public func sqrt() -> Tensor {
        unary("sqrt", self, forward: { Foundation.sqrt($0) }, derivative: { _, y in 0.5 / y })
    }

    public func abs() -> Tensor {
        unary("abs", self, forward: { Swift.abs($0) }, derivative: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) })
    }
}

/// ReLU's backward for ops that apply ReLU on their way out: the gradient where the output is > 0, else 0
/// (what `Tensor.relu`'s backward passes on).
func reluGradient(_ grad: [Float], output: [Float]) -> [Float] {
    grad.withUnsafeBufferPointer { gp in
        output.withUnsafeBufferPointer { yp in
            uninitializedFloats(grad.count) { o in
                let g = gp.baseAddress!, y = yp.baseAddress!, o = o.baseAddress!
                parallelRanges(grad.count) { range in
                    @inline(__always) func vectorStep(_ i: Int, _ n: Int) {
                        var d = loadVector(g + i, count: n)
                        d.replace(with: 0, where: .!(loadVector(y + i, count: n) .> 0))
                        storeVector(d, o + i, count: n)
                    }
                    forEachVector(in: range, vectorStep)
                }
            }
        }
    }
}

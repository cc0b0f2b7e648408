/// Matrix products: `cblas_sgemm`, or the engine's AVX-512 kernels for tall and for large products
/// (Kernels/Gemm.swift).

extension Tensor {
    /// Batched matrix product: self [..., m, k] times other [..., k, n] -> [..., m, n]. `other` may be a plain
    /// matrix [k, n] shared by every batch entry; otherwise the batch axes must be equal.
    /// `transposeSelf` / `transposeOther` use the last two axes transposed without copying.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        let a = self, b = other
        precondition(a.rank >= 2 && b.rank >= 2, shapeMismatchMessage("matmul", a.shape, b.shape, "both need rank >= 2"))
        let aRows = a.shape[a.rank - 2], aCols = a.shape[a.rank - 1]
        let bRows = b.shape[b.rank - 2], bCols = b.shape[b.rank - 1]
        let m = transposeSelf ? aCols : aRows, k = transposeSelf ? aRows : aCols
        let kb = transposeOther ? bCols : bRows, n = transposeOther ? bRows : bCols
        checkShape(k == kb, "matmul", a.shape, b.shape, "inner sizes \(k) and \(kb) differ")
        let batchShape = Array(a.shape.dropLast(2))
        let sharedB = b.rank == 2
        checkShape(sharedB || Array(b.shape.dropLast(2)) == batchShape, "matmul", a.shape, b.shape, "batch axes differ")
        let batch = batchShape.elementCount
        let aSize = aRows * aCols, bSize = sharedB ? 0 : bRows * bCols
        let out = a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                uninitializedFloats(batch * m * n) { cp in
                    if sharedB && !transposeSelf {
                        // One GEMM over all rows of all batch entries.
                        gemm(transposeA: false, transposeB: transposeOther, m: batch * m, n: n, k: k,
                             a: ap.baseAddress!, lda: aCols, b: bp.baseAddress!, ldb: bCols, beta: 0,
                             c: cp.baseAddress!, ldc: n)
                    } else {
                        for i in 0..<batch {
                            gemm(transposeA: transposeSelf, transposeB: transposeOther, m: m, n: n, k: k,
                                 a: ap.baseAddress! + i * aSize, lda: aCols, b: bp.baseAddress! + i * bSize, ldb: bCols,
                                 beta: 0, c: cp.baseAddress! + i * m * n, ldc: n)
                        }
                    }
                }
            }
        }
        return Tensor.recorded("matmul", shape: batchShape + [m, n], data: out, inputs: [a, b]) { r in
            let g = r.grad!
            g.withUnsafeBufferPointer { gp in
                if a.requiresGrad {
                    // dA = dC * op(B)^T, stored as A is (transposed back when A was used transposed).
                    b.data.withUnsafeBufferPointer { bp in
                        a.accumulateInPlace { ga, fresh in
                            let beta: Float = fresh ? 0 : 1
                            for i in 0..<batch {
                                let gi = gp.baseAddress! + i * m * n, bi = bp.baseAddress! + i * bSize
                                if transposeSelf {
                                    // A^T = op(B) * dC^T  ->  A [k, m] = op(B)[k, n] * dC^T [n, m]
                                    gemm(transposeA: transposeOther, transposeB: true, m: k, n: m, k: n,
                                         a: bi, lda: bCols, b: gi, ldb: n, beta: beta, c: ga.baseAddress! + i * aSize, ldc: aCols)
                                } else {
                                    gemm(transposeA: false, transposeB: !transposeOther, m: m, n: k, k: n,
                                         a: gi, lda: n, b: bi, ldb: bCols, beta: beta, c: ga.baseAddress! + i * aSize, ldc: aCols)
                                }
                            }
                        }
                    }
                }
                if b.requiresGrad {
                    a.data.withUnsafeBufferPointer { ap in
                        b.accumulateInPlace { gb in
                            for i in 0..<batch {
                                let gi = gp.baseAddress! + i * m * n, ai = ap.baseAddress! + i * aSize
                                let target = gb.baseAddress! + i * bSize
                                if transposeOther {
                                    // B [n, k] += dC^T [n, m] * op(A) [m, k]
                                    gemm(transposeA: true, transposeB: transposeSelf, m: n, n: k, k: m,
                                         a: gi, lda: n, b: ai, ldb: aCols, beta: 1, c: target, ldc: bCols)
                                } else {
                                    // B [k, n] += op(A)^T [k, m] * dC [m, n]
                                    gemm(transposeA: !transposeSelf, transposeB: false, m: k, n: n, k: m,
                                         a: ai, lda: aCols, b: gi, ldb: n, beta: 1, c: target, ldc: bCols)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// An affine map over the last axis: self [..., in] times weight [out, in] transposed, plus bias [out]
    /// (PyTorch's `F.linear`). One GEMM for every leading index together.
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(rank >= 1 && weight.rank == 2, shapeMismatchMessage("linear", shape, weight.shape, "input [..., in], weight [out, in]"))
        let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
        checkShape(shape.last == inFeatures, "linear", shape, weight.shape, "input's last axis must equal weight's in-features \(inFeatures)")
        if let bias { checkShape(bias.shape == [outFeatures], "linear", weight.shape, bias.shape, "bias must be [out]") }
        let rows = count / Swift.max(inFeatures, 1)
        let out = uninitializedFloats(rows * outFeatures) { o in
            data.withUnsafeBufferPointer { x in
                weight.data.withUnsafeBufferPointer { w in
                    withBias(bias) { bp in
                        gemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                             a: x.baseAddress!, lda: inFeatures, b: w.baseAddress!, ldb: inFeatures,
                             beta: 0, c: o.baseAddress!, ldc: outFeatures, bias: bp)
                    }
                }
            }
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return Tensor.recorded("linear", shape: Array(shape.dropLast()) + [outFeatures], data: out, inputs: inputs) { r in
            let g = r.grad!
            g.withUnsafeBufferPointer { gp in
                if self.requiresGrad {
                    weight.data.withUnsafeBufferPointer { w in
                        self.accumulateInPlace { gx, fresh in
                            gemm(transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                                 a: gp.baseAddress!, lda: outFeatures, b: w.baseAddress!, ldb: inFeatures,
                                 beta: fresh ? 0 : 1, c: gx.baseAddress!, ldc: inFeatures)
                        }
                    }
                }
                // The bias gradient is dY's column sums, which the weight gradient's GEMM reads on its way.
                let biasGradient = bias.flatMap { $0.requiresGrad ? $0 : nil }
                let weightGradient = { (biasSums: UnsafeMutablePointer<Float>?) in
                    self.data.withUnsafeBufferPointer { x in
                        weight.accumulateInPlace { gw, fresh in
                            gemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                                 a: gp.baseAddress!, lda: outFeatures, b: x.baseAddress!, ldb: inFeatures,
                                 beta: fresh ? 0 : 1, c: gw.baseAddress!, ldc: inFeatures, aRowSums: biasSums)
                        }
                    }
                }
                if let biasGradient, weight.requiresGrad {
                    biasGradient.accumulateInPlace { gb, fresh in
                        if fresh {
                            weightGradient(gb.baseAddress!)
                        } else {
                            var sums = [Float](repeating: 0, count: outFeatures)
                            sums.withUnsafeMutableBufferPointer { weightGradient($0.baseAddress!) }
                            for j in 0..<outFeatures { gb[j] += sums[j] }
                        }
                    }
                } else {
                    if weight.requiresGrad { weightGradient(nil) }
                    biasGradient?.accumulateInPlace { gb in
                        addColumnSums(gp.baseAddress!, count: rows, width: outFeatures, into: gb.baseAddress!)
                    }
                }
            }
        }
    }
}

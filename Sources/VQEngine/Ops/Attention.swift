import CKernels
import Foundation

/// The core of causal multi-head self-attention as one op, reading q, k and v in place from the fused
/// projection [B, T, 3C] (ordered [q | k | v], head h at columns h*hs..<(h+1)*hs of each part) and writing
/// the heads merged back into [B, T, C]. Per batch entry b and head h, with hs = C / heads:
///
///   S = q k^T / sqrt(hs)   (T x T, keys after the query masked out)
///   P = softmax(S) per row, O = P v
///
/// The GEMMs address the heads through leading dimensions, so no split, permute or mask tensor is built.
/// Backward: dP = dO v^T, dS = P * (dP - rowsum(dP * P)) / sqrt(hs), dq = dS k, dk = dS^T q, dv = P^T dO.
/// (b, h) pairs are independent, so they run in parallel with the same arithmetic on any thread count; each
/// pair's products stay on its thread. With AVX-512 a pair runs as one C kernel (attention_avx512.c): its
/// products are too small for a GEMM library's overhead, and causality halves them.

extension Tensor {
    /// Causal self-attention of a fused qkv projection [B, T, 3C] with `heads` heads: [B, T, C].
    /// Equal to splitting into q, k, v, reshaping to [B, heads, T, hs], softmax(mask(q k^T / sqrt(hs))) v,
    /// and merging the heads back.
    public func causalSelfAttention(heads: Int) -> Tensor { causalSelfAttention(heads: heads, vectorized: true) }

    /// The same; `vectorized: false` takes the GEMM path even with AVX-512 (for tests comparing the two).
    func causalSelfAttention(heads: Int, vectorized: Bool) -> Tensor {
        precondition(rank == 3 && shape[2] % 3 == 0, "causal_attention: needs [B, T, 3C], found shape \(shape)")
        let (batch, t, width) = (shape[0], shape[1], shape[2])
        let c = width / 3
        precondition(heads >= 1 && c % heads == 0, "causal_attention: \(c) channels cannot form \(heads) heads")
        let hs = c / heads, pairs = batch * heads, block = t * t, paddedT = (t + 15) / 16 * 16
        let scale = 1 / Float(hs).squareRoot()
        let kernel = vectorized && VectorUnit.hasAVX512
        let minimumPairs = Swift.max(1, 32_768 / Swift.max(1, block * hs))
        // Every element is written below (each row's softmax, then zeros after the diagonal).
        var probabilities = uninitializedFloats(pairs * block) { _ in }
        let out = data.withUnsafeBufferPointer { xp in
            probabilities.withUnsafeMutableBufferPointer { pp in
                uninitializedFloats(batch * t * c) { op in
                    let x = xp.baseAddress!, p = pp.baseAddress!, o = op.baseAddress!
                    parallelRanges(pairs, minimumPerThread: minimumPairs) { range in
                        if kernel {
                            var scratch = [Float](repeating: 0, count: hs * paddedT)
                            scratch.withUnsafeMutableBufferPointer { sp in
                                for pair in range {
                                    let b = pair / heads, h = pair % heads
                                    let q = x + b * t * width + h * hs
                                    vq_causal_attention_forward_avx512(t, hs, scale, q, q + c, q + 2 * c, width,
                                                                       p + pair * block, o + b * t * c + h * hs, c,
                                                                       sp.baseAddress!)
                                }
                            }
                            return
                        }
                        for pair in range {
                            let b = pair / heads, h = pair % heads
                            let q = x + b * t * width + h * hs, k = q + c, v = q + 2 * c
                            let probs = p + pair * block
                            gemm(transposeA: false, transposeB: true, m: t, n: t, k: hs, alpha: scale,
                                 a: q, lda: width, b: k, ldb: width, beta: 0, c: probs, ldc: t, threads: 1)
                            for i in 0..<t {
                                let row = probs + i * t
                                _ = softmaxRow(row, width: i + 1, into: row)
                                (row + i + 1).update(repeating: 0, count: t - i - 1)
                            }
                            gemm(transposeA: false, transposeB: false, m: t, n: hs, k: t,
                                 a: probs, lda: t, b: v, ldb: width, beta: 0, c: o + b * t * c + h * hs, ldc: c, threads: 1)
                        }
                    }
                }
            }
        }
        return Tensor.recorded("causal_attention", shape: [batch, t, c], data: out, inputs: [self]) { r in
            let g = r.grad!
            let gradient = self.data.withUnsafeBufferPointer { xp in
                probabilities.withUnsafeBufferPointer { pp in
                    g.withUnsafeBufferPointer { gp in
                        uninitializedFloats(self.count) { dp in
                            let x = xp.baseAddress!, p = pp.baseAddress!, go = gp.baseAddress!, d = dp.baseAddress!
                            parallelRanges(pairs, minimumPerThread: minimumPairs) { range in
                                if kernel {
                                    var scratch = [Float](repeating: 0, count: block + hs * paddedT)
                                    scratch.withUnsafeMutableBufferPointer { sp in
                                        for pair in range {
                                            let b = pair / heads, h = pair % heads
                                            let offset = b * t * width + h * hs
                                            let q = x + offset, dq = d + offset
                                            vq_causal_attention_backward_avx512(
                                                t, hs, scale, q, q + c, q + 2 * c, width, p + pair * block,
                                                go + b * t * c + h * hs, c, dq, dq + c, dq + 2 * c, sp.baseAddress!)
                                        }
                                    }
                                    return
                                }
                                var scratch = [Float](repeating: 0, count: block)
                                scratch.withUnsafeMutableBufferPointer { sp in
                                    let ds = sp.baseAddress!
                                    for pair in range {
                                        let b = pair / heads, h = pair % heads
                                        let offset = b * t * width + h * hs
                                        let q = x + offset, k = q + c, v = q + 2 * c
                                        let dq = d + offset, dk = dq + c, dv = dq + 2 * c
                                        let probs = p + pair * block, dO = go + b * t * c + h * hs
                                        // dv = P^T dO; dP = dO v^T
                                        gemm(transposeA: true, transposeB: false, m: t, n: hs, k: t,
                                             a: probs, lda: t, b: dO, ldb: c, beta: 0, c: dv, ldc: width, threads: 1)
                                        gemm(transposeA: false, transposeB: true, m: t, n: t, k: hs,
                                             a: dO, lda: c, b: v, ldb: width, beta: 0, c: ds, ldc: t, threads: 1)
                                        for i in 0..<t {
                                            let row = ds + i * t, prow = probs + i * t
                                            let n = i + 1
                                            var dots = FloatVector(repeating: 0)
                                            @inline(__always) func vectorStep1(_ j: Int, _ lanes: Int) {
                                                dots += loadVector(row + j, count: lanes) * loadVector(prow + j, count: lanes)
                                            }
                                            forEachVector(in: 0..<n, vectorStep1)
                                            let dot = horizontalSum(dots)
                                            @inline(__always) func vectorStep2(_ j: Int, _ lanes: Int) {
                                                let s = loadVector(prow + j, count: lanes) * (loadVector(row + j, count: lanes) - dot) * scale
                                                storeVector(s, row + j, count: lanes)
                                            }
                                            forEachVector(in: 0..<n, vectorStep2)
                                            (row + n).update(repeating: 0, count: t - n)
                                        }
                                        // dq = dS k; dk = dS^T q
                                        gemm(transposeA: false, transposeB: false, m: t, n: hs, k: t,
                                             a: ds, lda: t, b: k, ldb: width, beta: 0, c: dq, ldc: width, threads: 1)
                                        gemm(transposeA: true, transposeB: false, m: t, n: hs, k: t,
                                             a: ds, lda: t, b: q, ldb: width, beta: 0, c: dk, ldc: width, threads: 1)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            self.accumulate(gradient)
        }
    }
}

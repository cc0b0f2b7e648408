/// For each of `count` vectors of size `dimension`, the index of the nearest of `codes` codebook rows by
/// squared distance, computed as PyTorch's reference does, (||z||^2 - 2 z.e) + ||e||^2, with ties going to
/// the lowest index. One GEMM gives all dot products (alpha = -2 is exact); rows are then scanned in blocks
/// so the distance matrix never exists whole.
func nearestCodeIndices(vectors: UnsafePointer<Float>, count: Int, codebook: UnsafePointer<Float>, codes: Int,
                        dimension: Int) -> [Int] {
    var codeNorms = [Float](repeating: 0, count: codes)
    for c in 0..<codes {
        var s: Float = 0
        for d in 0..<dimension { let v = codebook[c * dimension + d]; s += v * v }
        codeNorms[c] = s
    }
    var result = [Int](repeating: 0, count: count)
    let blockRows = Swift.max(1, Swift.min(count, 16_384 / Swift.max(codes, 1) * 16))
    result.withUnsafeMutableBufferPointer { out in
        codeNorms.withUnsafeBufferPointer { norms in
            let blockCount = (count + blockRows - 1) / blockRows
            // Blocks spread over the threads multiply on their own thread; a single block may use them all.
            let innerThreads = blockCount >= ComputeThreads.count ? 1 : ComputeThreads.count
            parallelRanges(blockCount, minimumPerThread: 1) { blocks in
                var scores = [Float](repeating: 0, count: blockRows * codes)
                var rowNorms = [Float](repeating: 0, count: blockRows)
                scores.withUnsafeMutableBufferPointer { s in rowNorms.withUnsafeMutableBufferPointer { zz in
                    for block in blocks {
                        let start = block * blockRows, rows = Swift.min(blockRows, count - start)
                        // Always OpenBLAS: the codes chosen (and so every encoded file) must not depend on
                        // which kernel a block size happens to select.
                        gemm(transposeA: false, transposeB: true, m: rows, n: codes, k: dimension, alpha: -2,
                             a: vectors + start * dimension, lda: dimension, b: codebook, ldb: dimension,
                             beta: 0, c: s.baseAddress!, ldc: codes, kernel: .openBLAS, threads: innerThreads)
                        squaredNorms(vectors + start * dimension, rows: rows, dimension: dimension, into: zz.baseAddress!)
                        for r in 0..<rows {
                            out[start + r] = nearestIndex(dots: s.baseAddress! + r * codes, squaredNorm: zz[r],
                                                          codeNorms: norms.baseAddress!, codes: codes)
                        }
                    }
                } }
            }
        }
    }
    return result
}

/// Each row's sum of squares, element 0 first to the last, as one row at a time would sum it; four rows at a
/// time, so four chains of additions run side by side instead of one waiting on each addition.
@inline(__always)
func squaredNorms(_ vectors: UnsafePointer<Float>, rows count: Int, dimension: Int, into norms: UnsafeMutablePointer<Float>) {
    var r = 0
    while r + 4 <= count {
        let z0 = vectors + r * dimension, z1 = z0 + dimension, z2 = z1 + dimension, z3 = z2 + dimension
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        for d in 0..<dimension {
            s0 += z0[d] * z0[d]; s1 += z1[d] * z1[d]; s2 += z2[d] * z2[d]; s3 += z3[d] * z3[d]
        }
        norms[r] = s0; norms[r + 1] = s1; norms[r + 2] = s2; norms[r + 3] = s3
        r += 4
    }
    for r in r..<count {
        let z = vectors + r * dimension
        var s: Float = 0
        for d in 0..<dimension { s += z[d] * z[d] }
        norms[r] = s
    }
}

extension Tensor {
    /// For rows [N, D] of this tensor, the index of the nearest row of `codebook` [K, D] (squared Euclidean
    /// distance, ties to the lowest index). Records nothing on the tape.
    public func nearestRows(in codebook: Tensor) -> [Int] {
        precondition(rank == 2 && codebook.rank == 2 && shape[1] == codebook.shape[1],
                     shapeMismatchMessage("nearest_rows", shape, codebook.shape, "needs [N, D] and [K, D]"))
        precondition(codebook.shape[0] > 0, "nearest_rows: the codebook is empty")
        return data.withUnsafeBufferPointer { v in
            codebook.data.withUnsafeBufferPointer { e in
                nearestCodeIndices(vectors: v.baseAddress!, count: shape[0], codebook: e.baseAddress!,
                                   codes: codebook.shape[0], dimension: shape[1])
            }
        }
    }
}

/// The index of the smallest distance `(squaredNorm + dots[c]) + codeNorms[c]` over `codes`, the first one on
/// ties; NaN distances never win. With no finite distance at all: the first index whose distance is not NaN, or
/// the last index. One pass: each of eight lanes keeps its smallest distance and where it first saw it (a
/// strict `<`, so a lane keeps its first), then the lanes' smallest is taken, and the lowest index holding it.
/// (Writing the distances, then finding their minimum, then scanning for its index took three passes, the last
/// one scalar: 9% of `ConvVQVAE-encode`.)
@inline(__always)
func nearestIndex(dots: UnsafePointer<Float>, squaredNorm: Float, codeNorms: UnsafePointer<Float>, codes: Int) -> Int {
    let zz = SIMD8<Float>(repeating: squaredNorm)
    var best = SIMD8<Float>(repeating: .infinity), bestIndex = SIMD8<Int32>(repeating: -1)
    var lane = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
    var c = 0
    while c + 8 <= codes {
        let dot = UnsafeRawPointer(dots + c).loadUnaligned(as: SIMD8<Float>.self)
        let norm = UnsafeRawPointer(codeNorms + c).loadUnaligned(as: SIMD8<Float>.self)
        let distance = (zz + dot) + norm
        let closer = distance .< best
        best.replace(with: distance, where: closer)
        bestIndex.replace(with: lane, where: closer)
        lane &+= 8
        c += 8
    }
    var minimum = best.min(), index = codes
    // (When nothing in the lanes is finite, the tail or the search below decides: a lane's -1 is never returned.)
    for l in 0..<8 where best[l] == minimum { index = Swift.min(index, Int(bestIndex[l])) }
    while c < codes {
        let distance = (squaredNorm + dots[c]) + codeNorms[c]
        if distance < minimum { minimum = distance; index = c }
        c += 1
    }
    if minimum < .infinity { return index }
    // Nothing finite: the first distance that is not NaN (all are +infinity), else the last index.
    for c in 0..<codes where !((squaredNorm + dots[c]) + codeNorms[c]).isNaN { return c }
    return codes - 1
}

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
                scores.withUnsafeMutableBufferPointer { s in
                    for block in blocks {
                        let start = block * blockRows, rows = Swift.min(blockRows, count - start)
                        // Always OpenBLAS: the codes chosen (and so every encoded file) must not depend on
                        // which kernel a block size happens to select.
                        gemm(transposeA: false, transposeB: true, m: rows, n: codes, k: dimension, alpha: -2,
                             a: vectors + start * dimension, lda: dimension, b: codebook, ldb: dimension,
                             beta: 0, c: s.baseAddress!, ldc: codes, kernel: .openBLAS, threads: innerThreads)
                        for r in 0..<rows {
                            let z = vectors + (start + r) * dimension
                            var zz: Float = 0
                            for d in 0..<dimension { zz += z[d] * z[d] }
                            let row = s.baseAddress! + r * codes
                            // Pass 1 (vectorised): the distances and their minimum. Pass 2: its first index.
                            for c in 0..<codes { row[c] = (zz + row[c]) + norms[c] }
                            // Minimum over SIMD lanes with compare-and-select (pointwiseMin's NaN rules do
                            // not vectorise), then the first index holding it.
                            var lanes = SIMD8<Float>(repeating: .infinity)
                            var c = 0
                            while c + 8 <= codes {
                                let d = UnsafeRawPointer(row + c).loadUnaligned(as: SIMD8<Float>.self)
                                lanes.replace(with: d, where: d .< lanes)
                                c += 8
                            }
                            var best = Float.infinity
                            for l in 0..<8 where lanes[l] < best { best = lanes[l] }
                            while c < codes { if row[c] < best { best = row[c] }; c += 1 }
                            var index = 0
                            while index < codes - 1 && !(row[index] <= best) { index += 1 }
                            out[start + r] = index
                        }
                    }
                }
            }
        }
    }
    return result
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

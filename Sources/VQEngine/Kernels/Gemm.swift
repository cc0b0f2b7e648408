import CKernels
import COpenBLAS

/// C[m x n] = alpha * op(A) * op(B) (+ bias[j] in column j) + beta * C, row-major. `op(A)` is m x k.
/// Leading dimensions are those of the stored (untransposed) matrices. A bias needs beta 0. With a transposed A,
/// `aRowSums` receives the m sums over k of op(A)'s rows, k in order (a bias gradient: the engine's kernel reads
/// them on its way through A). `kernel` fixes the single-threaded GEMM (by default the faster one for the shape,
/// `GemmKernel.choose`).
@inline(__always)
func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
          alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
          b: UnsafePointer<Float>, ldb: Int,
          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil,
          aRowSums: UnsafeMutablePointer<Float>? = nil, kernel chosen: GemmKernel? = nil,
          threads: Int = ComputeThreads.count) {
    precondition(bias == nil || beta == 0, "gemm: a bias needs beta 0")
    precondition(aRowSums == nil || transposeA, "gemm: row sums need a transposed A")
    aRowSums?.update(repeating: 0, count: m)
    if m == 0 || n == 0 {
        if let aRowSums { addRowSums(ofTransposed: a, lda: lda, m: m, k: k, into: aRowSums) }
        return
    }
    if k == 0 {
        if beta == 0 { c.update(repeating: 0, count: m * ldc) } else if beta != 1 {
            for i in 0..<(m * ldc) { c[i] *= beta }
        }
        if let bias { for i in 0..<m { for j in 0..<n { c[i * ldc + j] += bias[j] } } }
        return
    }
    let kernel = chosen ?? GemmKernel.choose(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k)
    // The large-product kernel threads itself (B packed once for all threads); products it does not take, and a
    // failed allocation, go on to OpenBLAS below.
    if kernel == .large, alpha == 1, beta == 0 || beta == 1, bias == nil, aRowSums == nil, !transposeB,
       vq_sgemm_large(transposeA ? 1 : 0, m, n, k, a, lda, b, ldb, beta, c, ldc, threads) == 1 {
        return
    }
    ComputeThreads.prepareBLAS()
    // Below about 4 MFLOP a split does not pay, even with workers that start within a microsecond (a limit of 1
    // MFLOP: 0.87-1.02x in A/B runs of the training cases at 2 threads, 2026-12-01).
    guard threads > 1, 2 * m * n * k >= 4_000_000 else {
        kernel.run(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, aRowSums)
        return
    }
    // Bands of rows of C when it is taller than wide, else of columns. Both kernels give each element the same
    // sum wherever its band starts (band edges fall on multiples of 16, OpenBLAS's register block), so the
    // result does not depend on the thread count.
    let splitRows = m >= n
    let extent = splitRows ? m : n
    let parts = min(threads, max(1, extent / 64))
    let band = ((extent + parts - 1) / parts + 15) / 16 * 16
    parallelFor(parts, threads: parts) { part in
        let start = part * band, count = min(extent, start + band) - start
        guard count > 0 else { return }
        if splitRows {
            // Rows start..<start+count of op(A) and of C.
            let aBand = transposeA ? a + start : a + start * lda
            kernel.run(transposeA, transposeB, count, n, k, alpha, aBand, lda, b, ldb, beta, c + start * ldc, ldc, bias,
                       aRowSums.map { $0 + start })
        } else {
            // Columns start..<start+count of op(B), of C and of the bias.
            let bBand = transposeB ? b + start * ldb : b + start
            // Every band reads all of A; the first one sums its rows.
            kernel.run(transposeA, transposeB, m, count, k, alpha, a, lda, bBand, ldb, beta, c + start, ldc,
                       bias.map { $0 + start }, part == 0 ? aRowSums : nil)
        }
    }
}

/// Which single-threaded GEMM a product runs on.
enum GemmKernel {
    /// OpenBLAS's `cblas_sgemm`.
    case openBLAS
    /// The engine's AVX-512 kernel (`vq_sgemm_avx512`), for the products of linear layers over many rows (in
    /// TokenPrior, 6,272 rows by 128 to 512 features): tall ones with an untransposed A and at most 1,024 columns,
    /// where it is 5-15% faster than OpenBLAS 0.3.21 because it reads A in place instead of packing it, and
    /// weight gradients (A transposed, a long k), where it packs both operands a panel at a time and sums the
    /// bias gradient on the way: as fast as OpenBLAS without that sum, or up to 8% faster (Tools/bench/probes/
    /// gemm_vs_torch.py, kernel_pair.c). Small products stay on OpenBLAS.
    case engine
    /// The engine's kernel for large products (`vq_sgemm_large`: MKL's 8 x 48 tiles, an assembly inner loop, B
    /// packed once for all threads), with at least `largeSide` on every side and B untransposed. gemm-2048 on an
    /// Intel Xeon: 0.91-0.99 of MKL's speed at 1 thread and 0.92-0.96 at 2, where OpenBLAS 0.3.21 reaches
    /// 0.84-0.97 and 0.81-0.83; on an AMD EPYC (Zen 4) 1.27 and 1.23, OpenBLAS 1.22 and 1.13 (Tools/bench/probes/
    /// gemm_large_vs_torch.py). Anything else it is given runs on OpenBLAS.
    case large

    static let largeSide = 1024

    static func choose(transposeA: Bool, transposeB: Bool = false, m: Int, n: Int, k: Int) -> GemmKernel {
        guard VectorUnit.hasAVX512 else { return .openBLAS }
        if !transposeB && min(m, n, k) >= largeSide { return .large }
        guard n <= 1024 else { return .openBLAS }
        return (transposeA ? m <= 1024 && k >= 1024 : m >= 1024 && k <= 1024) ? .engine : .openBLAS
    }

    @inline(__always)
    func run(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
             _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
             _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ bias: UnsafePointer<Float>?,
             _ aRowSums: UnsafeMutablePointer<Float>?) {
        if self == .engine, vq_sgemm_avx512(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb,
                                            beta, c, ldc, bias, aRowSums) == 1 {
            return
        }
        if let aRowSums { addRowSums(ofTransposed: a, lda: lda, m: m, k: k, into: aRowSums) }
        // OpenBLAS, or the engine's kernel could not allocate its buffers. A bias becomes C's starting rows.
        var beta = beta
        if let bias {
            for i in 0..<m { (c + i * ldc).update(from: bias, count: n) }
            beta = 1
        }
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// sums[i] += sum over k (in order) of A[k][i], for the m x k matrix A^T stored k-major: the row sums of a
/// transposed A that the engine's kernel reads on its way, when OpenBLAS runs the product instead.
private func addRowSums(ofTransposed a: UnsafePointer<Float>, lda: Int, m: Int, k: Int,
                        into sums: UnsafeMutablePointer<Float>) {
    if lda == m {
        addColumnSums(a, count: k, width: m, into: sums)
    } else {
        for row in 0..<k { for i in 0..<m { sums[i] += a[row * lda + i] } }
    }
}

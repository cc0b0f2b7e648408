import COpenBLAS
import Dispatch

/// C[m x n] = alpha * op(A) * op(B) + beta * C, row-major, through OpenBLAS. `op(A)` is m x k.
/// Leading dimensions are those of the stored (untransposed) matrices.
@inline(__always)
func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
          alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
          b: UnsafePointer<Float>, ldb: Int,
          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int = ComputeThreads.count) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { c.update(repeating: 0, count: m * ldc) } else if beta != 1 {
            for i in 0..<(m * ldc) { c[i] *= beta }
        }
        return
    }
    ComputeThreads.prepareBLAS()
    // Below about 4 MFLOP a second thread costs more to wake than it saves.
    guard threads > 1, 2 * m * n * k >= 4_000_000 else {
        sgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    // Bands of rows of C when it is taller than wide, else of columns; band edges fall on multiples of 16,
    // OpenBLAS's register block, so the bands use the same kernels a single call would.
    let splitRows = m >= n
    let extent = splitRows ? m : n
    let parts = min(threads, max(1, extent / 64))
    let band = ((extent + parts - 1) / parts + 15) / 16 * 16
    nonisolated(unsafe) let (a, b, c) = (a, b, c)
    DispatchQueue.concurrentPerform(iterations: parts) { part in
        let start = part * band, count = min(extent, start + band) - start
        guard count > 0 else { return }
        if splitRows {
            // Rows start..<start+count of op(A) and of C.
            let aBand = transposeA ? a + start : a + start * lda
            sgemm(transposeA, transposeB, count, n, k, alpha, aBand, lda, b, ldb, beta, c + start * ldc, ldc)
        } else {
            // Columns start..<start+count of op(B) and of C.
            let bBand = transposeB ? b + start * ldb : b + start
            sgemm(transposeA, transposeB, m, count, k, alpha, a, lda, bBand, ldb, beta, c + start, ldc)
        }
    }
}

/// One single-threaded OpenBLAS product, row-major.
@inline(__always)
private func sgemm(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                   _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                   _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor,
                transposeA ? CblasTrans : CblasNoTrans,
                transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

import COpenBLAS
import Testing

@Suite("OpenBLAS")
struct OpenBLASTests {
    /// C = alpha * op(A) * op(B) + beta * C, row-major, by the definition.
    private func naiveGemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: [Float], b: [Float], beta: Float, c: [Float]
    ) -> [Float] {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var sum: Double = 0
                for p in 0..<k {
                    let av = transA ? a[p * m + i] : a[i * k + p]
                    let bv = transB ? b[j * k + p] : b[p * n + j]
                    sum += Double(av) * Double(bv)
                }
                out[i * n + j] = Float(Double(alpha) * sum + Double(beta) * Double(c[i * n + j]))
            }
        }
        return out
    }

    private func values(_ count: Int, seed: UInt64) -> [Float] {
        pseudoRandomBytes(count: count, seed: seed).map { Float(Int($0) - 128) / 64 }
    }

    @Test(
        "cblas_sgemm matches a naive triple loop",
        arguments: [
            (1, 1, 1, false, false), (3, 4, 5, false, false), (7, 2, 9, true, false),
            (5, 6, 3, false, true), (17, 13, 33, true, true), (64, 48, 80, false, false),
        ]
    )
    func sgemmMatchesNaive(m: Int, n: Int, k: Int, transA: Bool, transB: Bool) {
        let a = values(m * k, seed: 1)
        let b = values(k * n, seed: 2)
        let c = values(m * n, seed: 3)
        let alpha: Float = 0.75, beta: Float = -0.5
        let expected = naiveGemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c)

        var result = c
        result.withUnsafeMutableBufferPointer { cp in
            cblas_sgemm(
                CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(transA ? m : k), b, Int32(transB ? k : n),
                beta, cp.baseAddress, Int32(n))
        }
        let maxError = zip(result, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(maxError <= 1e-3 * Float(k), "max |error| \(maxError) for \(m)x\(n)x\(k)")
    }

    @Test("runtime reports a configuration and at least one thread")
    func runtimeInfo() throws {
        #expect(openblas_get_num_threads() >= 1)
        let config = try #require(openblas_get_config())
        #expect(!String(cString: config).isEmpty)
    }
}

import Testing
@testable import VQEngine

/// The engine's AVX-512 GEMM (Kernels/Gemm.swift, CKernels/gemm_avx512.c) against a double-precision loop, and
/// the properties the engine relies on: C unread when beta is 0, the same bits from any band split, and the bias
/// and bias-gradient sums it takes on the way.
@Suite(.serialized) struct GemmKernelTests {  // serialized: some tests switch the global thread count
    /// op(A) * op(B) with every transpose, at sizes around the kernel's tile (12 x 32) and block edges (k past
    /// 384 and 768, n past 1,024, m past the 192 rows of a block of A), with alpha and beta, a bias, and the row sums of a transposed A.
    @Test(arguments: [(1, 1, 1), (13, 37, 51), (12, 32, 384), (25, 65, 385), (30, 1100, 50), (131, 40, 800), (200, 33, 390)])
    func engineKernelMatchesADoubleLoop(m: Int, n: Int, k: Int) {
        guard VectorUnit.hasAVX512 else { return }
        var rng = RandomGenerator(seed: UInt64(m * 7 + n * 3 + k))
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = rng.normal([m * k]).data, b = rng.normal([k * n]).data, bias = rng.normal([n]).data
            let start = rng.normal([m * n]).data
            let lda = ta ? m : k, ldb = tb ? k : n
            var exact = [Double](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { for p in 0..<k {
                exact[i * n + j] += Double(a[ta ? p * m + i : i * k + p]) * Double(b[tb ? j * k + p : p * n + j])
            } } }
            let tolerance = 1e-5 * Double(k).squareRoot() * 4
            for (alpha, beta, withBias) in [(Float(1), Float(0), false), (-2, 0, true), (0.5, 1, false), (1, 0.5, false)] {
                var c = beta == 0 ? [Float](repeating: .nan, count: m * n) : start
                var sums = [Float](repeating: .nan, count: m)
                a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in bias.withUnsafeBufferPointer { biasp in
                    c.withUnsafeMutableBufferPointer { cp in sums.withUnsafeMutableBufferPointer { sp in
                        gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: lda,
                             b: bp.baseAddress!, ldb: ldb, beta: beta, c: cp.baseAddress!, ldc: n,
                             bias: withBias ? biasp.baseAddress! : nil, aRowSums: ta ? sp.baseAddress! : nil,
                             kernel: .engine, threads: 1)
                    } }
                } } }
                var worst = 0.0
                for i in 0..<m { for j in 0..<n {
                    let expected = Double(alpha) * exact[i * n + j] + (withBias ? Double(bias[j]) : 0) + Double(beta) * Double(start[i * n + j])
                    worst = Swift.max(worst, Swift.abs(Double(c[i * n + j]) - expected))
                } }
                #expect(worst <= tolerance, "\(m)x\(n)x\(k) transposed \(ta) \(tb), alpha \(alpha) beta \(beta) bias \(withBias): off by \(worst)")
                if ta {
                    for i in 0..<m {
                        let expected = (0..<k).reduce(0.0) { $0 + Double(a[$1 * m + i]) }
                        #expect(Swift.abs(Double(sums[i]) - expected) <= tolerance, "row sum \(i) of \(m)x\(k)")
                    }
                }
            }
        }
    }

    /// Split into bands of rows (tall C) or columns (wide C) on two threads, the engine's kernel gives the bits
    /// of one single-threaded call, bias and row sums included.
    @Test(arguments: [(2100, 300, 800, false), (300, 200, 2500, true), (64, 1000, 1500, true)])
    func engineKernelSplitsGiveTheSameBits(m: Int, n: Int, k: Int, transposeA: Bool) {
        guard VectorUnit.hasAVX512 else { return }
        var rng = RandomGenerator(seed: 41)
        let a = rng.normal([m * k]).data, b = rng.normal([k * n]).data, bias = rng.normal([n]).data
        func run(threads: Int) -> ([Float], [Float]) {
            var c = [Float](repeating: 0, count: m * n), sums = [Float](repeating: 0, count: m)
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in bias.withUnsafeBufferPointer { biasp in
                c.withUnsafeMutableBufferPointer { cp in sums.withUnsafeMutableBufferPointer { sp in
                    gemm(transposeA: transposeA, transposeB: false, m: m, n: n, k: k, a: ap.baseAddress!,
                         lda: transposeA ? m : k, b: bp.baseAddress!, ldb: n, beta: 0, c: cp.baseAddress!, ldc: n,
                         bias: biasp.baseAddress!, aRowSums: transposeA ? sp.baseAddress! : nil, kernel: .engine,
                         threads: threads)
                } }
            } } }
            return (c, sums)
        }
        let one = run(threads: 1), two = run(threads: 2)
        #expect(one.0 == two.0, "products differ")
        #expect(one.1 == two.1, "row sums differ")
    }

    /// Which kernel runs: the engine's for the tall products of linear layers and their weight gradients,
    /// OpenBLAS for wide and small ones (large products: GemmLargeTests).
    @Test func kernelChoiceFollowsTheShape() {
        guard VectorUnit.hasAVX512 else { return }
        #expect(GemmKernel.choose(transposeA: false, m: 6272, n: 384, k: 128) == .engine)
        #expect(GemmKernel.choose(transposeA: true, m: 384, n: 128, k: 6272) == .engine)
        #expect(GemmKernel.choose(transposeA: false, transposeB: true, m: 2048, n: 2048, k: 2048) == .openBLAS)
        #expect(GemmKernel.choose(transposeA: false, m: 128, n: 400, k: 784) == .openBLAS)
        #expect(GemmKernel.choose(transposeA: false, m: 49, n: 49, k: 32) == .openBLAS)
    }

    /// A linear layer's bias gradient, summed by the weight gradient's GEMM, has the bits of the separate column
    /// sums (used when the weight is frozen), on a fresh gradient; accumulated over a second backward it still
    /// matches the double-precision sums.
    @Test func linearBiasGradientFromTheWeightProductMatchesColumnSums() {
        var rng = RandomGenerator(seed: 43)
        let rows = 2100, inFeatures = 48, outFeatures = 70
        let x = rng.normal([rows, inFeatures]), upstream = rng.normal([rows, outFeatures])
        let weightData = rng.normal([outFeatures, inFeatures]).data, biasData = rng.normal([outFeatures]).data
        func biasGradient(trainWeight: Bool, passes: Int) -> [Float] {
            let w = Tensor(shape: [outFeatures, inFeatures], data: weightData, requiresGrad: trainWeight)
            let bias = Tensor(shape: [outFeatures], data: biasData, requiresGrad: true)
            for _ in 0..<passes { (x.linear(weight: w, bias: bias) * upstream).sum().backward() }
            return bias.grad!
        }
        #expect(biasGradient(trainWeight: true, passes: 1) == biasGradient(trainWeight: false, passes: 1))
        let twice = biasGradient(trainWeight: true, passes: 2)
        for j in 0..<outFeatures {
            let expected = 2 * (0..<rows).reduce(0.0) { $0 + Double(upstream.data[$1 * outFeatures + j]) }
            #expect(Swift.abs(Double(twice[j]) - expected) <= 1e-3, "bias gradient \(j)")
        }
    }
}

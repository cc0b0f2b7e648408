import Testing
@testable import VQEngine

/// The AVX-512 attention kernel (CKernels/attention_avx512.c) against the GEMM path it replaces: values and all
/// three input gradients, at TokenPrior's shape (49 positions, heads of 32) and at shapes that cross its tiles
/// (positions past 32 and not a multiple of 8, heads wider than 32 columns, a single position).
@Suite struct AttentionKernelTests {
    @Test(arguments: [(2, 49, 128, 4), (1, 37, 90, 2), (2, 1, 16, 2), (1, 70, 32, 1)])
    func kernelMatchesTheGEMMPath(batch: Int, t: Int, c: Int, heads: Int) {
        guard VectorUnit.hasAVX512 else { return }
        var rng = RandomGenerator(seed: UInt64(t * 31 + c))
        let x = rng.normal([batch, t, 3 * c], std: 2)
        x.requiresGrad = true
        let upstream = rng.normal([batch, t, c])
        func run(vectorized: Bool) -> (values: [Float], gradient: [Float]) {
            x.zeroGrad()
            let y = x.causalSelfAttention(heads: heads, vectorized: vectorized)
            (y * upstream).sum().backward()
            return (y.data, x.grad!)
        }
        let kernel = run(vectorized: true), reference = run(vectorized: false)
        func worst(_ a: [Float], _ b: [Float]) -> Float {
            zip(a, b).map { Swift.abs($0 - $1) / (1 + Swift.abs($1)) }.max() ?? 0
        }
        #expect(worst(kernel.values, reference.values) <= 1e-5, "values, \(batch)x\(t)x\(c), \(heads) heads")
        #expect(worst(kernel.gradient, reference.gradient) <= 1e-4, "gradients, \(batch)x\(t)x\(c), \(heads) heads")
        #expect(kernel.gradient.allSatisfy { $0.isFinite })
    }
}

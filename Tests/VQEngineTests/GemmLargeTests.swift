import CKernels
import Dispatch
import Testing
@testable import VQEngine

/// The large-product GEMM (CKernels/gemm_large.c) against a double-precision loop, at sizes across its tile
/// (8 x 48) and block edges, and the properties the engine relies on: C unread when beta is 0, the same bits at
/// any thread count, and products it does not take left to OpenBLAS.
@Suite(.serialized) struct GemmLargeTests {  // serialized: the thread pool runs one loop at a time
    private static func exactProduct(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transposeA: Bool) -> [Double] {
        var exact = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for p in 0..<k {
            let value = Double(a[transposeA ? p * m + i : i * k + p])
            for j in 0..<n { exact[i * n + j] += value * Double(b[p * n + j]) }
        } }
        return exact
    }

    private static func large(transposeA: Bool, m: Int, n: Int, k: Int, a: [Float], b: [Float], beta: Float,
                              c: inout [Float], threads: Int) -> Int32 {
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            vq_sgemm_large(transposeA ? 1 : 0, m, n, k, ap.baseAddress!, transposeA ? m : k, bp.baseAddress!, n, beta,
                           cp.baseAddress!, n, threads)
        } } }
    }

    /// m past a tile (8) and across blocks of rows (384, evened out); n past a panel (48), in a narrow one (at most 32 columns) and past
    /// a block of columns (2,112); k past a
    /// step group (4) and across blocks of k (512, evened out). Both layouts of A, beta 0 (C starts as NaN, so a
    /// read of it shows) and 1, on 1 to 3 threads.
    @Test(arguments: [(1, 1, 1), (8, 48, 4), (13, 50, 9), (11, 30, 21), (16, 2080, 5), (17, 100, 520), (9, 2200, 40), (130, 60, 1030), (70, 97, 7), (800, 50, 20)])
    func matchesADoubleLoop(m: Int, n: Int, k: Int) {
        guard VectorUnit.hasAVX512 else { return }
        var rng = RandomGenerator(seed: UInt64(m * 7 + n * 3 + k))
        for transposeA in [false, true] {
            let a = rng.normal([m * k]).data, b = rng.normal([k * n]).data, start = rng.normal([m * n]).data
            let exact = Self.exactProduct(a, b, m: m, n: n, k: k, transposeA: transposeA)
            let tolerance = 1e-5 * Double(k).squareRoot() * 4
            for (beta, threads) in [(Float(0), 1), (0, 2), (1, 3)] {
                var c = beta == 0 ? [Float](repeating: .nan, count: m * n) : start
                let status = Self.large(transposeA: transposeA, m: m, n: n, k: k, a: a, b: b, beta: beta, c: &c,
                                        threads: threads)
                #expect(status == 1)
                var worst = 0.0
                for i in 0..<(m * n) {
                    let expected = exact[i] + Double(beta) * Double(start[i])
                    worst = Swift.max(worst, Swift.abs(Double(c[i]) - expected))
                }
                #expect(worst <= tolerance, "\(m)x\(n)x\(k) transposed \(transposeA), beta \(beta), \(threads) threads: off by \(worst)")
            }
        }
    }

    /// Blocks of rows claimed by two or three threads give the bits of one thread, over several blocks of k and
    /// columns.
    @Test func threadCountsGiveTheSameBits() {
        guard VectorUnit.hasAVX512 else { return }
        var rng = RandomGenerator(seed: 47)
        let m = 900, n = 1000, k = 1100
        let a = rng.normal([m * k]).data, b = rng.normal([k * n]).data
        func run(threads: Int) -> [Float] {
            var c = [Float](repeating: 0, count: m * n)
            _ = Self.large(transposeA: false, m: m, n: n, k: k, a: a, b: b, beta: 0, c: &c, threads: threads)
            return c
        }
        let one = run(threads: 1)
        #expect(run(threads: 2) == one)
        #expect(run(threads: 3) == one)
    }

    /// Leading dimensions longer than the rows (a block of a bigger matrix): the padding is neither read into the
    /// product nor written.
    @Test func paddedLeadingDimensions() {
        guard VectorUnit.hasAVX512 else { return }
        var rng = RandomGenerator(seed: 59)
        let m = 21, n = 100, k = 530, lda = k + 3, ldb = n + 5, ldc = n + 7
        let a = rng.normal([m * lda]).data, b = rng.normal([k * ldb]).data
        var c = [Float](repeating: .nan, count: m * ldc)
        let status = a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            vq_sgemm_large(0, m, n, k, ap.baseAddress!, lda, bp.baseAddress!, ldb, 0, cp.baseAddress!, ldc, 2)
        } } }
        #expect(status == 1)
        var worst = 0.0
        for i in 0..<m { for j in 0..<n {
            let exact = (0..<k).reduce(0.0) { $0 + Double(a[i * lda + $1]) * Double(b[$1 * ldb + j]) }
            worst = Swift.max(worst, Swift.abs(Double(c[i * ldc + j]) - exact))
        } }
        #expect(worst <= 1e-3, "off by \(worst)")
        #expect((0..<m).allSatisfy { i in (n..<ldc).allSatisfy { c[i * ldc + $0].isNaN } }, "padding of C written")
    }

    /// Callers on four threads at once, of products of different sizes, each get their own product: one of them
    /// takes the kept packing buffer, the others map their own.
    @Test func concurrentCallersEachGetTheirProduct() {
        guard VectorUnit.hasAVX512 else { return }
        let shapes = [(40, 100, 600), (70, 50, 530), (9, 200, 1030), (33, 49, 17)]
        var rng = RandomGenerator(seed: 61)
        let inputs = shapes.map { (m, n, k) in (rng.normal([m * k]).data, rng.normal([k * n]).data) }
        let expected: [[Float]] = shapes.indices.map { i in
            let (m, n, k) = shapes[i]
            var c = [Float](repeating: 0, count: m * n)
            _ = Self.large(transposeA: false, m: m, n: n, k: k, a: inputs[i].0, b: inputs[i].1, beta: 0, c: &c, threads: 1)
            return c
        }
        for _ in 0..<5 {
            nonisolated(unsafe) let results = UnsafeMutableBufferPointer<[Float]>.allocate(capacity: shapes.count)
            results.initialize(repeating: [])
            DispatchQueue.concurrentPerform(iterations: shapes.count) { i in
                let (m, n, k) = shapes[i]
                var c = [Float](repeating: 0, count: m * n)
                _ = Self.large(transposeA: false, m: m, n: n, k: k, a: inputs[i].0, b: inputs[i].1, beta: 0, c: &c,
                               threads: 2)
                results[i] = c
            }
            #expect(Array(results) == expected)
            results.deinitialize()
            results.deallocate()
        }
    }

    /// A beta other than 0 and 1, or an empty product, is refused without touching C.
    @Test func refusesWhatItDoesNotTake() {
        var c: [Float] = [7, 7, 7, 7]
        #expect(Self.large(transposeA: false, m: 2, n: 2, k: 2, a: [1, 2, 3, 4], b: [1, 2, 3, 4], beta: 0.5, c: &c,
                           threads: 1) == 0)
        #expect(Self.large(transposeA: false, m: 2, n: 2, k: 0, a: [1], b: [1], beta: 0, c: &c, threads: 1) == 0)
        #expect(c == [7, 7, 7, 7])
    }

    /// The engine picks the kernel for large products with an untransposed B, and hands what the kernel does
    /// not take (here alpha 2 and a bias) to OpenBLAS, which gives the same product.
    @Test func gemmRoutesLargeProducts() {
        guard VectorUnit.hasAVX512 else { return }
        #expect(GemmKernel.choose(transposeA: false, m: 2048, n: 2048, k: 2048) == .large)
        #expect(GemmKernel.choose(transposeA: true, m: 1024, n: 1500, k: 1024) == .large)
        #expect(GemmKernel.choose(transposeA: false, transposeB: true, m: 2048, n: 2048, k: 2048) == .openBLAS)
        #expect(GemmKernel.choose(transposeA: false, m: 1023, n: 2048, k: 2048) == .openBLAS)
        var rng = RandomGenerator(seed: 53)
        let m = 40, n = 60, k = 30
        let a = rng.normal([m * k]).data, b = rng.normal([k * n]).data, bias = rng.normal([n]).data
        let exact = Self.exactProduct(a, b, m: m, n: n, k: k, transposeA: false)
        for (alpha, withBias) in [(Float(1), false), (2, false), (1, true)] {
            var c = [Float](repeating: .nan, count: m * n)
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in bias.withUnsafeBufferPointer { biasp in
                c.withUnsafeMutableBufferPointer { cp in
                    gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!,
                         lda: k, b: bp.baseAddress!, ldb: n, beta: 0, c: cp.baseAddress!, ldc: n,
                         bias: withBias ? biasp.baseAddress! : nil, kernel: .large, threads: 2)
                }
            } } }
            var worst = 0.0
            for i in 0..<m { for j in 0..<n {
                let expected = Double(alpha) * exact[i * n + j] + (withBias ? Double(bias[j]) : 0)
                worst = Swift.max(worst, Swift.abs(Double(c[i * n + j]) - expected))
            } }
            #expect(worst <= 1e-4, "alpha \(alpha), bias \(withBias): off by \(worst)")
        }
    }
}

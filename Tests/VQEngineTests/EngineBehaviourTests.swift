import Foundation
import Testing
import VQEngine

@Suite(.serialized) struct EngineBehaviourTests {  // serialized: several tests switch the global thread count
    @Test func shapeErrorsNameTheOpAndBothShapes() async throws {
        let result = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 3]) + Tensor(zeros: [4])
        }
        let message = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(message.contains("add"))
        #expect(message.contains("[2, 3]") && message.contains("[4]"))
    }

    @Test func matmulShapeErrorNamesBothShapes() async throws {
        let result = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 3]).matmul(Tensor(zeros: [4, 5]))
        }
        let message = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(message.contains("matmul") && message.contains("[2, 3]") && message.contains("[4, 5]"))
    }

    @Test func inferenceModeRecordsNothing() {
        let w = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        let y = Autograd.withoutRecording { (w * w).sum() }
        #expect(!y.requiresGrad)
        let z = (w * w).sum()
        #expect(z.requiresGrad)
        z.backward()
        #expect(w.grad == [2, 4])
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let w = Tensor(shape: [1], data: [3], requiresGrad: true)
        (w * 2).sum().backward()
        (w * 2).sum().backward()
        #expect(w.grad == [4])
        w.zeroGrad()
        #expect(w.grad == nil)
    }

    @Test func sameSeedGivesBitIdenticalDraws() {
        var a = RandomGenerator(seed: 99), b = RandomGenerator(seed: 99)
        #expect(a.normal([1000]).data == b.normal([1000]).data)
        #expect(a.uniform([10]).data == b.uniform([10]).data)
        #expect(a.gumbel([10]).data == b.gumbel([10]).data)
        var c = RandomGenerator(seed: 100), d = RandomGenerator(seed: 99)
        #expect(c.normal([10]).data != d.normal([10]).data)
        // Saving and restoring the state continues the stream exactly.
        let saved = a.stateWords
        let next = a.uniform([5]).data
        var restored = RandomGenerator(seed: 0)
        restored.stateWords = saved
        #expect(restored.uniform([5]).data == next)
    }

    @Test func normalDrawsHaveUnitMoments() {
        var rng = RandomGenerator(seed: 1)
        let x = rng.normal([100_000]).data
        let mean = x.reduce(0, +) / Float(x.count)
        let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(x.count)
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.02)
    }

    @Test func nearestRowsMatchesBruteForce() {
        var rng = RandomGenerator(seed: 7)
        let vectors = rng.normal([300, 16]), codebook = rng.normal([70, 16])
        let fast = vectors.nearestRows(in: codebook)
        for r in 0..<300 {
            var best = Float.infinity, index = -1
            for c in 0..<70 {
                var d: Float = 0
                for k in 0..<16 { let diff = vectors.data[r * 16 + k] - codebook.data[c * 16 + k]; d += diff * diff }
                if d < best { best = d; index = c }
            }
            #expect(fast[r] == index)
        }
        // Ties go to the lowest index.
        let tied = Tensor(shape: [2, 2], data: [1, 1, 1, 1])
        #expect(Tensor(shape: [1, 2], data: [0, 0]).nearestRows(in: tied) == [0])
    }

    @Test func threadCountDoesNotChangeResults() {
        var rng = RandomGenerator(seed: 3)
        let x = rng.normal([8, 4, 12, 12]), w = rng.normal([6, 4, 3, 3])
        ComputeThreads.set(1)
        let one = x.conv2d(weight: w, bias: nil, stride: 1, padding: 1).tanh().data
        ComputeThreads.set(2)
        let two = x.conv2d(weight: w, bias: nil, stride: 1, padding: 1).tanh().data
        ComputeThreads.set(1)
        #expect(one == two)
    }

    /// Convolutions over batches of several blocks (2 images per block here) match the same convolution
    /// image by image (outputs and input gradients bit for bit, weight gradients to rounding), and give the
    /// same bits on 1 and 2 threads.
    @Test(arguments: [false, true])
    func blockedConvolutionsMatchImageByImage(transposed: Bool) {
        var rng = RandomGenerator(seed: 17)
        let (batch, channels, size) = (5, 16, 28)
        let x = rng.normal([batch, channels, size, size]), upstreamScale = rng.normal([1])
        let w = rng.normal(transposed ? [channels, 8, 4, 4] : [8, channels, 3, 3]), b = rng.normal([8])
        func run(_ input: Tensor) -> (out: [Float], gx: [Float], gw: [Float], gb: [Float]) {
            let xi = Tensor(shape: input.shape, data: input.data, requiresGrad: true)
            let wi = Tensor(shape: w.shape, data: w.data, requiresGrad: true), bi = Tensor(shape: b.shape, data: b.data, requiresGrad: true)
            let y = transposed ? xi.convTranspose2d(weight: wi, bias: bi, stride: 2, padding: 1) : xi.conv2d(weight: wi, bias: bi, stride: 1, padding: 1)
            (y * y * upstreamScale.scalar).sum().backward()
            return (y.data, xi.grad!, wi.grad!, bi.grad!)
        }
        ComputeThreads.set(1)
        let whole = run(x)
        ComputeThreads.set(2)
        let two = run(x)
        ComputeThreads.set(1)
        #expect(whole.out == two.out && whole.gx == two.gx && whole.gw == two.gw && whole.gb == two.gb)
        let imageSize = channels * size * size
        var weightSum = [Double](repeating: 0, count: w.count)
        for i in 0..<batch {
            let one = run(Tensor(shape: [1, channels, size, size], data: Array(x.data[(i * imageSize)..<((i + 1) * imageSize)])))
            let outSize = one.out.count
            #expect(Array(whole.out[(i * outSize)..<((i + 1) * outSize)]) == one.out, "image \(i) output")
            #expect(Array(whole.gx[(i * imageSize)..<((i + 1) * imageSize)]) == one.gx, "image \(i) input gradient")
            for k in weightSum.indices { weightSum[k] += Double(one.gw[k]) }
        }
        let scale = weightSum.map(Swift.abs).max()!
        for k in weightSum.indices { #expect(Swift.abs(Double(whole.gw[k]) - weightSum[k]) <= 1e-5 * scale, "weight gradient \(k)") }
    }

    /// GELU and its derivative against exact erf in double precision, across the range, the tails and every
    /// vector tail length (on this CPU the AVX-512 kernel; elsewhere the Swift one).
    @Test func geluMatchesExactErf() {
        let values = (0..<4099).map { Float($0 - 2049) * 0.005 } + [-30, -9, 9, 30, 0, -0.0]
        for length in [values.count, 15, 16, 17, 1] {
            let x = Tensor(shape: [length], data: Array(values.prefix(length)), requiresGrad: true)
            let y = x.gelu()
            y.sum().backward()
            for (i, v) in x.data.enumerated() {
                let d = Double(v), cdf = 0.5 * (1 + erf(d / 2.0.squareRoot())), density = exp(-d * d / 2) / (2 * Double.pi).squareRoot()
                #expect(Swift.abs(Double(y.data[i]) - d * cdf) <= 1e-6 * Swift.max(1, Swift.abs(d)), "gelu(\(v))")
                #expect(Swift.abs(Double(x.grad![i]) - (cdf + d * density)) <= 2e-6 * Swift.max(1, Swift.abs(d)), "gelu'(\(v))")
            }
        }
    }

    /// Softmax and log-softmax rows of every tail length, with masked (-infinity) entries, against double precision.
    @Test func softmaxRowsMatchDoublePrecision() {
        var rng = RandomGenerator(seed: 23)
        for width in [1, 15, 16, 17, 49, 513] {
            var data = rng.normal([3, width]).data.map { $0 * 6 }
            data[width - 1] = -.infinity                       // row 0 ends with a masked entry
            if width > 2 { data[width + 1] = -.infinity }      // row 1 has one inside
            let x = Tensor(shape: [3, width], data: data)
            let (p, l) = (x.softmax().data, x.logSoftmax().data)
            for r in 0..<3 {
                let row = data[(r * width)..<((r + 1) * width)].map(Double.init)
                let m = row.max()! == -.infinity ? 0 : row.max()!
                let total = row.map { exp($0 - m) }.reduce(0, +)
                for j in 0..<width where total > 0 {
                    let expected = exp(row[j] - m) / total
                    #expect(Swift.abs(Double(p[r * width + j]) - expected) <= 1e-6, "softmax width \(width) [\(r), \(j)]")
                    if row[j] > -.infinity {
                        #expect(Swift.abs(Double(l[r * width + j]) - (row[j] - m - log(total))) <= 1e-5, "log-softmax width \(width)")
                    }
                }
            }
        }
    }

    /// Transposed convolutions (col2im) against their definition, for strides 1 to 3 and rows shorter and longer
    /// than a 16-lane vector.
    @Test(arguments: [(1, 3, 1, 7), (2, 4, 1, 7), (2, 4, 1, 20), (2, 3, 0, 37), (3, 5, 2, 9)])
    func transposedConvolutionMatchesItsDefinition(stride: Int, kernel: Int, padding: Int, size: Int) {
        var rng = RandomGenerator(seed: 29)
        let (batch, cin, cout) = (2, 3, 2)
        let x = rng.normal([batch, cin, size, size]), w = rng.normal([cin, cout, kernel, kernel]), b = rng.normal([cout])
        let y = x.convTranspose2d(weight: w, bias: b, stride: stride, padding: padding)
        let oh = (size - 1) * stride - 2 * padding + kernel
        #expect(y.shape == [batch, cout, oh, oh])
        var expected = [Double](repeating: 0, count: batch * cout * oh * oh)
        for n in 0..<batch { for co in 0..<cout { for p in 0..<(oh * oh) { expected[(n * cout + co) * oh * oh + p] = Double(b.data[co]) } } }
        for n in 0..<batch { for ci in 0..<cin { for yi in 0..<size { for xi in 0..<size {
            let v = Double(x.data[((n * cin + ci) * size + yi) * size + xi])
            for co in 0..<cout { for i in 0..<kernel { for j in 0..<kernel {
                let yo = yi * stride - padding + i, xo = xi * stride - padding + j
                guard yo >= 0, yo < oh, xo >= 0, xo < oh else { continue }
                expected[((n * cout + co) * oh + yo) * oh + xo] += v * Double(w.data[((ci * cout + co) * kernel + i) * kernel + j])
            } } }
        } } } }
        for (k, e) in expected.enumerated() { #expect(Swift.abs(Double(y.data[k]) - e) <= 1e-4, "element \(k)") }
    }

    /// Many split products in a row (two single-threaded OpenBLAS calls at once each time) give the bits of the
    /// one-thread product every time: OpenBLAS's single-threaded path is safe to call from two threads at once.
    @Test func concurrentSingleThreadedProductsAreStable() {
        var rng = RandomGenerator(seed: 31)
        let a = rng.normal([300, 131]), b = rng.normal([200, 131])
        ComputeThreads.set(1)
        let reference = a.matmul(b, transposeOther: true).data
        ComputeThreads.set(2)
        var differing = 0
        for _ in 0..<400 where a.matmul(b, transposeOther: true).data != reference { differing += 1 }
        ComputeThreads.set(1)
        #expect(differing == 0)
    }

    /// Broadcast arithmetic, split over threads by runs of the innermost axis (each range starting mid-shape),
    /// matches an element-by-element loop at 1 and 2 threads.
    @Test func broadcastArithmeticMatchesAnElementwiseLoop() {
        var rng = RandomGenerator(seed: 53)
        let cases: [([Int], [Int])] = [([37, 5, 300], [5, 1]), ([2, 3, 4096], [4096]), ([600, 49], [600, 1]), ([7], [1])]
        for threads in [1, 2] {
            ComputeThreads.set(threads)
            for (shapeA, shapeB) in cases {
                let a = rng.normal(shapeA), b = rng.normal(shapeB)
                let sum = a + b, product = a * b
                let strides = (0..<shapeA.count).map { shapeA[($0 + 1)...].reduce(1, *) }
                let offset = shapeA.count - shapeB.count
                for flat in 0..<a.count {
                    var bIndex = 0
                    for (axis, size) in shapeB.enumerated() {
                        let coordinate = (flat / strides[axis + offset]) % shapeA[axis + offset]
                        bIndex = bIndex * size + (size == 1 ? 0 : coordinate)
                    }
                    #expect(sum.data[flat] == a.data[flat] + b.data[bIndex], "\(shapeA) + \(shapeB) at \(flat)")
                    #expect(product.data[flat] == a.data[flat] * b.data[bIndex], "\(shapeA) * \(shapeB) at \(flat)")
                }
            }
        }
        ComputeThreads.set(1)
    }

    /// Permutations, with and without axes of size 1 (which the shortcuts skip), against an index-by-index copy.
    @Test func permutationsMatchAnElementwiseCopy() {
        var rng = RandomGenerator(seed: 37)
        let cases: [([Int], [Int])] = [([6, 1, 1, 4], [0, 3, 1, 2]), ([1, 5, 1, 3], [2, 0, 1, 3]), ([2, 3, 4], [0, 2, 1]),
                                       ([3, 1, 4, 2], [3, 1, 0, 2]), ([4, 5], [1, 0]), ([2, 1, 3, 1, 2], [4, 2, 0, 3, 1])]
        for (shape, order) in cases {
            let x = rng.normal(shape)
            let y = x.permuted(order)
            let outShape = order.map { shape[$0] }
            #expect(y.shape == outShape)
            var strides = [Int](repeating: 1, count: shape.count)
            for a in stride(from: shape.count - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * shape[a + 1] }
            for flat in 0..<x.count {
                var rest = flat, source = 0
                for a in stride(from: outShape.count - 1, through: 0, by: -1) {
                    source += (rest % outShape[a]) * strides[order[a]]
                    rest /= outShape[a]
                }
                #expect(y.data[flat] == x.data[source], "\(shape) by \(order), element \(flat)")
            }
        }
    }

    /// Products large enough to be split into bands across threads (by rows when C is tall, by columns when it
    /// is wide, with every transpose) give the same bits as one single-threaded product, and match a plain loop.
    @Test(arguments: [(517, 203, 131), (45, 611, 260), (2, 3000, 700), (2100, 300, 400), (300, 200, 2500)])
    func splitMatrixProductsDoNotDependOnTheThreadCount(m: Int, n: Int, k: Int) {
        var rng = RandomGenerator(seed: 21)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = rng.normal(ta ? [k, m] : [m, k]), b = rng.normal(tb ? [n, k] : [k, n])
            ComputeThreads.set(1)
            let one = a.matmul(b, transposeSelf: ta, transposeOther: tb).data
            ComputeThreads.set(2)
            let two = a.matmul(b, transposeSelf: ta, transposeOther: tb).data
            ComputeThreads.set(1)
            #expect(one == two, "\(m)x\(n)x\(k) transposed \(ta) \(tb)")
            for (i, j) in [(0, 0), (m - 1, n - 1), (m / 2, n / 3), (m - 1, 0)] {
                var expected: Double = 0
                for p in 0..<k {
                    expected += Double(a.data[ta ? p * m + i : i * k + p]) * Double(b.data[tb ? j * k + p : p * n + j])
                }
                #expect(Swift.abs(Double(two[i * n + j]) - expected) <= 1e-3 * Double(k).squareRoot(), "element \(i),\(j)")
            }
        }
    }

    /// The fused attention op computes what the composed ops (split, permute, matmul, mask, softmax) do.
    @Test func fusedAttentionMatchesComposedOps() {
        var rng = RandomGenerator(seed: 11)
        let (b, t, c, heads) = (3, 7, 8, 2)
        let hs = c / heads
        let x = rng.normal([b, t, 3 * c])
        x.requiresGrad = true
        let upstream = rng.normal([b, t, c])
        let fused = x.causalSelfAttention(heads: heads)
        (fused * upstream).sum().backward()
        let fusedGrad = x.grad!
        x.zeroGrad()
        let parts = x.split([c, c, c], axis: 2)
        func splitHeads(_ m: Tensor) -> Tensor { m.reshaped([b, t, heads, hs]).permuted([0, 2, 1, 3]) }
        let (q, k, v) = (splitHeads(parts[0]), splitHeads(parts[1]), splitHeads(parts[2]))
        let scores = q.matmul(k, transposeOther: true) * (1 / Float(hs).squareRoot())
        let composed = scores.causallyMasked().softmax().matmul(v).permuted([0, 2, 1, 3]).reshaped([b, t, c])
        (composed * upstream).sum().backward()
        let composedGrad = x.grad!
        for (f, e) in zip(fused.data, composed.data) { #expect(Swift.abs(f - e) <= 1e-5) }
        for (f, e) in zip(fusedGrad, composedGrad) { #expect(Swift.abs(f - e) <= 1e-5) }
    }

    /// The parallel elementwise, row and attention kernels give bit-identical values and gradients on 1 and 2 threads.
    @Test func threadCountDoesNotChangeTransformerKernels() {
        func run() -> [[Float]] {
            var rng = RandomGenerator(seed: 5)
            let x = rng.normal([16, 49, 96])
            x.requiresGrad = true
            let w = Tensor(repeating: 1.5, shape: [96], requiresGrad: true), bias = Tensor(zeros: [96], requiresGrad: true)
            let h = x.layerNorm(weight: w, bias: bias).gelu()
            let a = h.causalSelfAttention(heads: 4)
            let loss = crossEntropy(a.reshaped([-1, 32]).sigmoid(), targets: (0..<(16 * 49 * 32 / 32)).map { $0 % 32 })
            loss.backward()
            return [h.data, a.data, [loss.scalar], x.grad!, w.grad!, bias.grad!]
        }
        ComputeThreads.set(1)
        let one = run()
        ComputeThreads.set(2)
        let two = run()
        ComputeThreads.set(1)
        #expect(one == two)
    }
}

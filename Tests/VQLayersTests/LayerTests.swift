import Foundation
import Testing
import VQEngine
import VQLayers

@Suite struct LayerTests {
    @Test func adamFirstStepMovesEachWeightByLearningRate() {
        // With bias correction, Adam's first step is lr * g / (|g| + eps') = lr * sign(g) for |g| >> eps.
        let w = Tensor(shape: [3], data: [1, 2, 3], requiresGrad: true)
        w.grad = [0.5, -2, 4]
        let adam = Adam(parameters: [w], learningRate: 0.1)
        adam.update()
        #expect(abs(w.data[0] - 0.9) < 1e-6)
        #expect(abs(w.data[1] - 2.1) < 1e-6)
        #expect(abs(w.data[2] - 2.9) < 1e-6)
        #expect(adam.step == 1)
    }

    /// A parameter large enough to be updated in ranges on two threads gets the bits of the one-thread update
    /// (Adam with decay and AdamW, three steps), and its elements follow the formula in double precision.
    @Test func adamUpdatesInRangesMatchOneThread() {
        var rng = RandomGenerator(seed: 59)
        let start = rng.normal([100_003]).data, gradients = (0..<3).map { _ in rng.normal([100_003]).data }
        for style in [Adam.WeightDecayStyle.adam, .adamW] {
            func run(threads: Int) -> [Float] {
                ComputeThreads.set(threads)
                defer { ComputeThreads.set(1) }
                let w = Tensor(shape: [start.count], data: start, requiresGrad: true)
                let adam = Adam(parameters: [w], learningRate: 0.01, weightDecay: 0.1, style: style)
                for g in gradients { w.grad = g; adam.update() }
                return w.data
            }
            let one = run(threads: 1), two = run(threads: 2)
            #expect(one == two, "\(style): 1 and 2 threads differ")
            for i in [0, 50_001, start.count - 1] {
                var w = Double(start[i]), m = 0.0, v = 0.0
                for (t, g) in gradients.enumerated() {
                    var gi = Double(g[i])
                    if style == .adamW { w *= 1 - 0.01 * 0.1 } else { gi += 0.1 * w }
                    m = 0.9 * m + 0.1 * gi
                    v = 0.999 * v + 0.001 * gi * gi
                    let step = Double(t + 1)
                    w -= 0.01 / (1 - pow(0.9, step)) * m / (v.squareRoot() / (1 - pow(0.999, step)).squareRoot() + 1e-8)
                }
                #expect(abs(Double(two[i]) - w) <= 1e-5, "\(style) element \(i)")
            }
        }
    }

    @Test func adamWDecaysWeightsBeforeTheUpdate() {
        let w = Tensor(shape: [1], data: [10], requiresGrad: true)
        w.grad = [0]
        let adamW = Adam.adamW(parameters: [w], learningRate: 0.1, weightDecay: 0.5)
        adamW.update()
        // Zero gradient: only the decoupled decay acts, w * (1 - lr * decay).
        #expect(abs(w.data[0] - 9.5) < 1e-6)
    }

    @Test func clippingScalesToTheMaximumNorm() {
        let a = Tensor(shape: [2], data: [0, 0], requiresGrad: true)
        let b = Tensor(shape: [1], data: [0], requiresGrad: true)
        a.grad = [3, 0]
        b.grad = [4]
        let norm = clipGradientNorm([a, b], maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        #expect(abs(a.grad![0] - 0.6) < 1e-5 && abs(b.grad![0] - 0.8) < 1e-5)
    }

    @Test func loadingChecksNamesAndShapes() throws {
        var rng = RandomGenerator(seed: 1)
        let layer = Linear(3, 2, rng: &rng)
        #expect(throws: ParameterLoadError.shapeMismatch(name: "weight", expected: [2, 3], found: [3, 2])) {
            try layer.loadParameters(["weight": ([3, 2], [Float](repeating: 0, count: 6)), "bias": ([2], [0, 0])])
        }
        #expect(throws: ParameterLoadError.namesDiffer(missing: ["bias"], unexpected: ["extra"])) {
            try layer.loadParameters(["weight": ([2, 3], [Float](repeating: 0, count: 6)), "extra": ([1], [0])])
        }
        try layer.loadParameters(["weight": ([2, 3], [1, 2, 3, 4, 5, 6]), "bias": ([2], [7, 8])])
        #expect(layer(Tensor(shape: [1, 3], data: [1, 0, 0])).data == [8, 12])
    }

    @Test func pytorchDefaultInitialisationBounds() {
        var rng = RandomGenerator(seed: 3)
        let conv = Conv2d(4, 8, kernelSize: 3, rng: &rng)
        let bound = 1 / Float(4 * 9).squareRoot()
        #expect(conv.weight.data.allSatisfy { abs($0) <= bound })
        #expect(conv.weight.data.map(abs).max()! > 0.9 * bound)
        // ConvTranspose2d takes fan_in from weight.size(1) * k * k = out * k * k.
        let transposed = ConvTranspose2d(8, 2, kernelSize: 4, rng: &rng)
        let tBound = 1 / Float(2 * 16).squareRoot()
        #expect(transposed.weight.shape == [8, 2, 4, 4])
        #expect(transposed.weight.data.allSatisfy { abs($0) <= tBound })
        #expect(transposed.weight.data.map(abs).max()! > 0.9 * tBound)
    }

    @Test func attentionIsCausal() {
        // Changing a later position must not change earlier outputs.
        var rng = RandomGenerator(seed: 5)
        let attention = CausalSelfAttention(dimension: 8, heads: 2, rng: &rng)
        let x = rng.normal([1, 4, 8])
        var changed = x.data
        for i in 24..<32 { changed[i] += 1 }
        let a = attention(x), b = attention(Tensor(shape: [1, 4, 8], data: changed))
        #expect(Array(a.data[0..<24]) == Array(b.data[0..<24]))
        #expect(Array(a.data[24..<32]) != Array(b.data[24..<32]))
    }
}

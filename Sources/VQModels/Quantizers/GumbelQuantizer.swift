import Foundation
import VQEngine
import VQLayers

/// Gumbel-softmax quantisation (the notes' differentiable alternative): a linear map gives logits over the
/// codes for each position; training samples y = softmax((logits + g) / tau) with Gumbel noise g, and the
/// latent is y times the codebook. With `gumbelHard` the forward pass uses the one-hot argmax of y while the
/// gradient is the soft sample's (straight-through). tau decays exponentially per training step to a floor.
/// Inference takes the argmax of the logits, so encoding is deterministic.
///
/// Parameters: `proj` (Linear D -> K), `codebook` [K, D]; buffer `steps` [1] drives the annealing.
public final class GumbelQuantizer: Quantizer {
    public let proj: Linear
    public let codebook: Tensor
    public let steps: Tensor
    public let options: QuantizerOptions
    public var isTraining = false
    private var counts: [Int]
    /// The noise of the next training pass; seeded from the step count so resumed runs repeat it.
    private var rng: RandomGenerator { RandomGenerator(seed: UInt64(steps.data[0]) ^ 0x6775_6D62_656C) }

    public init(codes: Int, dimension: Int, options: QuantizerOptions, rng: inout RandomGenerator) {
        proj = Linear(dimension, codes, rng: &rng)
        codebook = rng.normal([codes, dimension], std: 1)
        codebook.requiresGrad = true
        steps = Tensor(zeros: [1])
        self.options = options
        counts = [Int](repeating: 0, count: codes)
    }

    public var codes: Int { codebook.shape[0] }
    public var dimension: Int { codebook.shape[1] }
    public var codebookSizes: [Int] { [codes] }
    public var codebookParameterNames: [String] { ["codebook"] }
    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("proj", proj) + [("codebook", codebook), ("steps", steps)]
    }
    public var usageCounts: [[Int]] { [counts] }
    public func resetStatistics() { counts = [Int](repeating: 0, count: codes) }
    public var deadCodeCounts: [Int] { [] }

    /// The temperature at the current step: max(minimum, tau0 * exp(-rate * step)).
    public var temperature: Float {
        Swift.max(options.gumbelMinimumTemperature, options.gumbelTemperature * Foundation.exp(-options.gumbelAnnealRate * steps.data[0]))
    }

    public func indices(for encoded: Tensor, levels: Int) -> [[Int]] {
        [proj(channelsLast(encoded.detached())).argmax(axis: 1)]
    }

    public func embed(_ indices: [[Int]], batch: Int, height: Int, width: Int) -> Tensor {
        codebook.embeddingLookup(indices[0], indexShape: [batch, height, width]).permuted([0, 3, 1, 2])
    }

    public func callAsFunction(_ encoded: Tensor) -> QuantizerOutput {
        let (b, h, w) = (encoded.shape[0], encoded.shape[2], encoded.shape[3])
        let logits = proj(channelsLast(encoded))
        guard isTraining else {
            let chosen = logits.argmax(axis: 1)
            let kl = klToUniform(logits)
            return QuantizerOutput(quantized: embed([chosen], batch: b, height: h, width: w), indices: [chosen],
                                   loss: kl * options.gumbelKLWeight, terms: [("kl", kl)])
        }
        var noiseSource = rng
        let noise = noiseSource.gumbel(logits.shape)
        let soft = ((logits + noise) * (1 / temperature)).softmax()
        let chosen = soft.argmax(axis: 1)
        for i in chosen { counts[i] += 1 }
        var weights = soft
        if options.gumbelHard {
            var oneHot = [Float](repeating: 0, count: soft.count)
            for (row, code) in chosen.enumerated() { oneHot[row * codes + code] = 1 }
            weights = Tensor(shape: soft.shape, data: oneHot) - soft.stopGradient() + soft
        }
        let values = weights.matmul(codebook)
        steps.data[0] += 1
        let kl = klToUniform(logits)
        return QuantizerOutput(quantized: channelsFirst(values, batch: b, height: h, width: w), indices: [chosen],
                               loss: kl * options.gumbelKLWeight, terms: [("kl", kl)])
    }

    /// Mean over positions of KL(softmax(logits) || uniform) = sum q log q + log K.
    func klToUniform(_ logits: Tensor) -> Tensor {
        let logQ = logits.logSoftmax()
        return (logQ.exp() * logQ).sum(axis: 1).mean() + Foundation.log(Float(codes))
    }
}

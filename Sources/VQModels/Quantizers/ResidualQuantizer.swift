import VQEngine
import VQLayers

/// Residual quantisation: level 0 quantises the encoder output, each later level quantises what the levels
/// before it left over, and the latent is the sum of the chosen codes. Decoding with the first L levels gives
/// a coarser image from fewer bits, so one model serves several rates.
///
/// The straight-through estimator applies to the sum: z_q = z_e + sg[sum_l e_l - z_e]. Each level's codebook
/// and commitment losses use its own residual. With `levelDropout`, training steps sometimes stop after a
/// random number of levels so every prefix learns to decode well.
public final class ResidualQuantizer: Quantizer {
    public let levels: [VectorQuantizer]
    public let options: QuantizerOptions
    /// Training steps so far [1], which seeds the level dropout.
    public let steps: Tensor
    public var isTraining = false {
        didSet { for level in levels { level.isTraining = isTraining } }
    }

    public init(codes: Int, dimension: Int, options: QuantizerOptions, rng: inout RandomGenerator) {
        self.options = options
        levels = (0..<options.levels).map { VectorQuantizer(codes: codes, dimension: dimension, options: options, salt: UInt64($0), rng: &rng) }
        steps = Tensor(zeros: [1])
    }

    public var dimension: Int { levels[0].dimension }
    public var codebookSizes: [Int] { levels.map(\.codes) }
    public var codebookParameterNames: [String] { levels.indices.map { "levels.\($0).codebook" } }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        levels.enumerated().flatMap { prefixed("levels.\($0.offset)", $0.element) } + [("steps", steps)]
    }

    public var usageCounts: [[Int]] { levels.map { $0.usageCounts[0] } }
    public func resetStatistics() { for level in levels { level.resetStatistics() } }
    public var deadCodeCounts: [Int] { levels.flatMap(\.deadCodeCounts) }

    public func indices(for encoded: Tensor, levels count: Int) -> [[Int]] {
        var residual = encoded.detached()
        let (b, h, w) = (encoded.shape[0], encoded.shape[2], encoded.shape[3])
        var result: [[Int]] = []
        for level in levels.prefix(count) {
            let chosen = level.nearestCodes(channelsLast(residual))
            result.append(chosen)
            residual = residual - level.lookup(chosen, batch: b, height: h, width: w)
        }
        return result
    }

    public func embed(_ indices: [[Int]], batch: Int, height: Int, width: Int) -> Tensor {
        precondition(!indices.isEmpty && indices.count <= levels.count, "ResidualQuantizer: \(indices.count) levels of indices for \(levels.count) codebooks")
        var sum = levels[0].lookup(indices[0], batch: batch, height: height, width: width)
        for (level, chosen) in zip(levels.dropFirst(), indices.dropFirst()) {
            sum = sum + level.lookup(chosen, batch: batch, height: height, width: width)
        }
        return sum
    }

    /// How many levels this training step uses.
    func levelsForStep() -> Int {
        guard isTraining, options.levelDropout > 0, levels.count > 1 else { return levels.count }
        var rng = RandomGenerator(seed: UInt64(steps.data[0]) ^ 0xD0D0_CAFE)
        if rng.nextUnitFloat() >= options.levelDropout { return levels.count }
        return 1 + Int(rng.next() % UInt64(levels.count))
    }

    public func callAsFunction(_ encoded: Tensor) -> QuantizerOutput {
        let used = levelsForStep()
        if isTraining { steps.data[0] += 1 }
        var residual = encoded.detached()
        var sum: Tensor?
        var indices: [[Int]] = []
        var codebookLoss: Tensor?, commitmentLoss: Tensor?
        for level in levels.prefix(used) {
            // The residual carries the encoder's gradient for the commitment term of every level.
            let input = sum.map { encoded - $0.stopGradient() } ?? encoded
            let out = level.quantizeLevel(input)
            indices.append(out.indices)
            sum = sum.map { $0 + out.values } ?? out.values
            codebookLoss = codebookLoss.map { $0 + out.codebookLoss } ?? out.codebookLoss
            commitmentLoss = commitmentLoss.map { $0 + out.commitmentLoss } ?? out.commitmentLoss
            residual = residual - out.values.detached()
        }
        let straightThrough = encoded + (sum! - encoded).stopGradient()
        let beta = options.commitmentWeight
        let loss = options.kind == .ema ? commitmentLoss! * beta : codebookLoss! + commitmentLoss! * beta
        return QuantizerOutput(quantized: straightThrough, indices: indices, loss: loss,
                               terms: [("codebook", codebookLoss!), ("commitment", commitmentLoss!)])
    }
}

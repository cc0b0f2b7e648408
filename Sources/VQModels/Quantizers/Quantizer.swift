import Foundation
import VQEngine
import VQLayers

/// How a VQ-VAE turns encoder vectors into codes: the rule that moves the codebook and its maintenance.
/// Stored in model configurations; every field has a default, so older configurations still decode.
public struct QuantizerOptions: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// Codebook loss ||sg[z_e] - e||^2 moves the codebook (the notes' VQ-VAE).
        case codebook
        /// The codebook follows exponential moving averages of its assigned vectors (no codebook loss).
        case ema
        /// Gumbel-softmax over code logits, a differentiable relaxation (no residual levels).
        case gumbel
    }

    public var kind: Kind
    /// beta of beta * ||z_e - sg[e]||^2.
    public var commitmentWeight: Float
    /// Residual levels: each codebook quantises what the previous ones left over.
    public var levels: Int
    /// EMA decay of the cluster sizes and sums.
    public var emaDecay: Float
    /// Laplace smoothing of the EMA cluster sizes.
    public var emaEpsilon: Float
    /// Codes unused for this many training steps are re-seeded from the batch's encoder outputs (0: never).
    public var deadCodeSteps: Int
    /// Runs k-means on the first training batch's encoder outputs to initialise each codebook.
    public var kmeansInit: Bool
    /// With this probability a training step uses a random number of residual levels (1...levels), so every
    /// prefix of levels learns to decode on its own.
    public var levelDropout: Float
    /// Gumbel-softmax: initial and final temperature, and the per-step exponential decay rate.
    public var gumbelTemperature: Float
    public var gumbelMinimumTemperature: Float
    public var gumbelAnnealRate: Float
    /// Gumbel-softmax: one-hot forward pass with the soft sample's gradient (straight-through).
    public var gumbelHard: Bool
    /// Gumbel-softmax: weight of KL(q || uniform) on the code distribution.
    public var gumbelKLWeight: Float

    public init(kind: Kind = .codebook, commitmentWeight: Float = 0.25, levels: Int = 1, emaDecay: Float = 0.99,
                emaEpsilon: Float = 1e-5, deadCodeSteps: Int = 0, kmeansInit: Bool = false, levelDropout: Float = 0,
                gumbelTemperature: Float = 1, gumbelMinimumTemperature: Float = 0.0625, gumbelAnnealRate: Float = 1e-4,
                gumbelHard: Bool = true, gumbelKLWeight: Float = 0) {
        self.kind = kind
        self.commitmentWeight = commitmentWeight
        self.levels = levels
        self.emaDecay = emaDecay
        self.emaEpsilon = emaEpsilon
        self.deadCodeSteps = deadCodeSteps
        self.kmeansInit = kmeansInit
        self.levelDropout = levelDropout
        self.gumbelTemperature = gumbelTemperature
        self.gumbelMinimumTemperature = gumbelMinimumTemperature
        self.gumbelAnnealRate = gumbelAnnealRate
        self.gumbelHard = gumbelHard
        self.gumbelKLWeight = gumbelKLWeight
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = QuantizerOptions()
        kind = try c.decodeIfPresent(Kind.self, forKey: .kind) ?? d.kind
        commitmentWeight = try c.decodeIfPresent(Float.self, forKey: .commitmentWeight) ?? d.commitmentWeight
        levels = try c.decodeIfPresent(Int.self, forKey: .levels) ?? d.levels
        emaDecay = try c.decodeIfPresent(Float.self, forKey: .emaDecay) ?? d.emaDecay
        emaEpsilon = try c.decodeIfPresent(Float.self, forKey: .emaEpsilon) ?? d.emaEpsilon
        deadCodeSteps = try c.decodeIfPresent(Int.self, forKey: .deadCodeSteps) ?? d.deadCodeSteps
        kmeansInit = try c.decodeIfPresent(Bool.self, forKey: .kmeansInit) ?? d.kmeansInit
        levelDropout = try c.decodeIfPresent(Float.self, forKey: .levelDropout) ?? d.levelDropout
        gumbelTemperature = try c.decodeIfPresent(Float.self, forKey: .gumbelTemperature) ?? d.gumbelTemperature
        gumbelMinimumTemperature = try c.decodeIfPresent(Float.self, forKey: .gumbelMinimumTemperature) ?? d.gumbelMinimumTemperature
        gumbelAnnealRate = try c.decodeIfPresent(Float.self, forKey: .gumbelAnnealRate) ?? d.gumbelAnnealRate
        gumbelHard = try c.decodeIfPresent(Bool.self, forKey: .gumbelHard) ?? d.gumbelHard
        gumbelKLWeight = try c.decodeIfPresent(Float.self, forKey: .gumbelKLWeight) ?? d.gumbelKLWeight
    }

    /// A description of what is wrong with these options, or nil when they are usable.
    public var problem: String? {
        if levels < 1 || levels > 64 { return "levels is \(levels); expected 1...64" }
        if kind == .gumbel && levels != 1 { return "the gumbel quantiser has one level; found levels \(levels)" }
        if !(emaDecay > 0 && emaDecay < 1) { return "emaDecay is \(emaDecay); expected a value in (0, 1)" }
        if !(emaEpsilon > 0) { return "emaEpsilon is \(emaEpsilon); expected a positive value" }
        if deadCodeSteps < 0 { return "deadCodeSteps is \(deadCodeSteps); expected 0 (off) or more" }
        if !(levelDropout >= 0 && levelDropout <= 1) { return "levelDropout is \(levelDropout); expected 0...1" }
        if !(gumbelTemperature > 0 && gumbelMinimumTemperature > 0) { return "gumbel temperatures must be positive" }
        if !commitmentWeight.isFinite || !gumbelKLWeight.isFinite || !gumbelAnnealRate.isFinite { return "weights must be finite" }
        return nil
    }
}

/// What a quantiser returns for encoder outputs [B, D, H, W].
public struct QuantizerOutput {
    /// The quantised latents with the straight-through (or Gumbel) gradient, [B, D, H, W].
    public let quantized: Tensor
    /// The chosen code per position for each level used, each row-major over [B, H, W].
    public let indices: [[Int]]
    /// The quantiser's share of the objective (already weighted).
    public let loss: Tensor
    /// Named unweighted terms, for logs ("codebook", "commitment", "kl").
    public let terms: [(name: String, value: Tensor)]
}

/// A layer that maps encoder vectors to discrete codes and codes back to vectors.
public protocol Quantizer: Layer {
    /// The size of each code vector.
    var dimension: Int { get }
    /// Codes per level (one entry for a single codebook).
    var codebookSizes: [Int] { get }
    /// While true, forward passes update EMA codebooks, restart dead codes, anneal temperatures and count usage.
    var isTraining: Bool { get set }
    /// Training or evaluation pass over encoder outputs [B, D, H, W].
    func callAsFunction(_ encoded: Tensor) -> QuantizerOutput
    /// Code indices of the first `levels` levels (inference: records nothing, changes nothing).
    func indices(for encoded: Tensor, levels: Int) -> [[Int]]
    /// The latents [B, D, H, W] that the given levels of indices stand for (the sum over levels).
    func embed(_ indices: [[Int]], batch: Int, height: Int, width: Int) -> Tensor
    /// The names (relative to the quantiser) of the tensors `embed` reads: what a decoder needs.
    var codebookParameterNames: [String] { get }
    /// Usage counts per level since the last `resetStatistics()` (training passes only).
    var usageCounts: [[Int]] { get }
    func resetStatistics()
    /// Codes per level that have not been used for `deadCodeSteps` steps (empty when not tracked).
    var deadCodeCounts: [Int] { get }
}

extension Quantizer {
    /// Single-level convenience: nearest codes of vectors [N, D] by the first level.
    public func nearestCodes(_ vectors: Tensor) -> [Int] {
        let n = vectors.shape[0]
        return indices(for: vectors.reshaped([n, 1, 1, dimension]).permuted([0, 3, 1, 2]), levels: 1)[0]
    }

    /// Single-level convenience: codebook rows for `indices`, NCHW [B, D, H, W].
    public func lookup(_ indices: [Int], batch: Int, height: Int, width: Int) -> Tensor {
        embed([indices], batch: batch, height: height, width: width)
    }
}

/// Builds the quantiser that `options` describe.
public func makeQuantizer(_ options: QuantizerOptions, codes: Int, dimension: Int, rng: inout RandomGenerator) -> any Quantizer {
    switch options.kind {
    case .gumbel:
        return GumbelQuantizer(codes: codes, dimension: dimension, options: options, rng: &rng)
    case .codebook, .ema:
        if options.levels == 1 { return VectorQuantizer(codes: codes, dimension: dimension, options: options, rng: &rng) }
        return ResidualQuantizer(codes: codes, dimension: dimension, options: options, rng: &rng)
    }
}

/// Codebook usage figures for one level: the share of codes used, the perplexity exp(H(p)) of the code
/// distribution, and how many codes were never used.
public struct CodebookStatistics: Sendable, Equatable, Codable {
    public let codes: Int
    public let used: Int
    public let perplexity: Double

    public init(counts: [Int]) {
        codes = counts.count
        used = counts.filter { $0 > 0 }.count
        let total = Double(counts.reduce(0, +))
        var entropy = 0.0
        if total > 0 {
            for c in counts where c > 0 { let p = Double(c) / total; entropy -= p * Foundation.log(p) }
        }
        perplexity = Foundation.exp(entropy)
    }

    public init(indices: [Int], codes: Int) {
        var counts = [Int](repeating: 0, count: codes)
        for i in indices where i >= 0 && i < codes { counts[i] += 1 }
        self.init(counts: counts)
    }

    /// used / codes.
    public var usage: Double { codes == 0 ? 0 : Double(used) / Double(codes) }
    public var unused: Int { codes - used }
}

/// Flattens NCHW [B, D, H, W] to rows [B*H*W, D].
func channelsLast(_ x: Tensor) -> Tensor {
    x.permuted([0, 2, 3, 1]).reshaped([-1, x.shape[1]])
}

/// Rows [B*H*W, D] back to NCHW.
func channelsFirst(_ rows: Tensor, batch: Int, height: Int, width: Int) -> Tensor {
    rows.reshaped([batch, height, width, rows.shape[1]]).permuted([0, 3, 1, 2])
}

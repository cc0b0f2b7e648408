import Foundation
import VQEngine

/// Causal multi-head self-attention with a fused qkv projection ordered [q | k | v], as in minGPT/nanoGPT:
/// x [B, T, C] -> softmax(mask(q k^T / sqrt(C / heads))) v -> proj, the middle part as one engine op
/// (`Tensor.causalSelfAttention(heads:)`).
public final class CausalSelfAttention: Layer {
    public let qkv: Linear
    public let proj: Linear
    public let heads: Int

    public init(dimension: Int, heads: Int, initStd: Float = 0.02, rng: inout RandomGenerator) {
        precondition(dimension % heads == 0, "CausalSelfAttention: dimension \(dimension) is not divisible by \(heads) heads")
        self.heads = heads
        qkv = Linear(dimension, 3 * dimension, normalStd: initStd, rng: &rng)
        proj = Linear(dimension, dimension, normalStd: initStd, rng: &rng)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { prefixed("qkv", qkv) + prefixed("proj", proj) }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 3, "CausalSelfAttention: input must be [B, T, C], found \(x.shape)")
        return proj(qkv(x).causalSelfAttention(heads: heads))
    }
}

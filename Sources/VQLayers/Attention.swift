import Foundation
import VQEngine

/// Causal multi-head self-attention with a fused qkv projection ordered [q | k | v], as in minGPT/nanoGPT:
/// x [B, T, C] -> softmax(mask(q k^T / sqrt(C / heads))) v -> proj.
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
        let (b, t, c) = (x.shape[0], x.shape[1], x.shape[2])
        let headCount = heads, headSize = c / heads
        let parts = qkv(x).split([c, c, c], axis: 2)
        // [B, T, C] -> [B, heads, T, headSize]
        func splitHeads(_ m: Tensor) -> Tensor { m.reshaped([b, t, headCount, headSize]).permuted([0, 2, 1, 3]) }
        let (q, k, v) = (splitHeads(parts[0]), splitHeads(parts[1]), splitHeads(parts[2]))
        let scores = q.matmul(k, transposeOther: true) * (1 / Float(headSize).squareRoot())
        let attention = scores.causallyMasked().softmax()
        let mixed = attention.matmul(v).permuted([0, 2, 1, 3]).reshaped([b, t, c])
        return proj(mixed)
    }
}

import VQEngine
import VQLayers

/// Nearest-code quantisation of the VQ-VAE: each D-vector of the encoder output is replaced by its nearest
/// codebook entry (squared distance ||z||^2 - 2 z.e + ||e||^2, ties to the lowest index). Gradients use
/// the straight-through estimator: the decoder's gradient passes to the encoder unchanged, and the codebook
/// learns only from ||sg[z_e] - e||^2.
public final class VectorQuantizer: Layer {
    /// The codebook [codes, dimension], initialised U(-1/codes, 1/codes).
    public let codebook: Tensor

    public init(codes: Int, dimension: Int, rng: inout RandomGenerator) {
        codebook = rng.uniform([codes, dimension], low: -1 / Float(codes), high: 1 / Float(codes))
        codebook.requiresGrad = true
    }

    public var codes: Int { codebook.shape[0] }
    public var dimension: Int { codebook.shape[1] }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("codebook", codebook)] }

    public struct Output {
        /// z_e + sg[z_q - z_e]: the quantised values with the straight-through gradient, [B, D, H, W].
        public let quantized: Tensor
        /// The chosen code per position, row-major over [B, H, W].
        public let indices: [Int]
        /// mse(z_q, sg[z_e]): moves the codebook.
        public let codebookLoss: Tensor
        /// mse(z_e, sg[z_q]): keeps the encoder near its codes.
        public let commitmentLoss: Tensor
    }

    /// Indices of the nearest codes for vectors [N, D].
    public func nearestCodes(_ vectors: Tensor) -> [Int] {
        vectors.nearestRows(in: codebook)
    }

    /// Codebook rows for `indices`, as NCHW [B, D, H, W].
    public func lookup(_ indices: [Int], batch: Int, height: Int, width: Int) -> Tensor {
        codebook.embeddingLookup(indices, indexShape: [batch, height, width]).permuted([0, 3, 1, 2])
    }

    public func callAsFunction(_ encoded: Tensor) -> Output {
        precondition(encoded.rank == 4 && encoded.shape[1] == dimension,
                     "VectorQuantizer: expects [B, \(dimension), H, W], found \(encoded.shape)")
        let (b, h, w) = (encoded.shape[0], encoded.shape[2], encoded.shape[3])
        let flat = encoded.permuted([0, 2, 3, 1]).reshaped([-1, dimension])
        let indices = nearestCodes(flat)
        let quantized = lookup(indices, batch: b, height: h, width: w)
        let codebookLoss = mseLoss(quantized, encoded.stopGradient())
        let commitmentLoss = mseLoss(encoded, quantized.stopGradient())
        let straightThrough = encoded + (quantized - encoded).stopGradient()
        return Output(quantized: straightThrough, indices: indices, codebookLoss: codebookLoss, commitmentLoss: commitmentLoss)
    }
}

import Foundation
import VQEngine
import VQLayers

/// How a VAE's decoder output is read as a distribution over pixels.
public enum Likelihood: String, Codable, Sendable, CaseIterable {
    /// Independent Bernoulli pixels with the decoder's probabilities: the reconstruction term is BCE(sum),
    /// applied to grey-level targets as the PyTorch and Keras examples do.
    case bernoulli
    /// Independent Gaussians N(decoder mean, variance) with a fixed, stated variance: the reconstruction
    /// term is sum (x - mean)^2 / (2 variance) + D/2 log(2 pi variance).
    case gaussian
}

/// What the VAE family shares: an encoder q(z|x[, y]) = N(mean, diag exp(logVariance)), the prior N(0, I),
/// and a decoder p(x|z[, y]). A conditional model (`classes > 0`) takes the one-hot label in both halves.
public protocol VariationalAutoencoder: ConfigurableModel {
    /// Dimensions of z.
    var latentSize: Int { get }
    /// Number of classes of the conditioning label; 0 for an unconditional model.
    var classes: Int { get }
    var likelihood: Likelihood { get }
    /// The Gaussian likelihood's fixed variance (unused for Bernoulli).
    var outputVariance: Float { get }
    /// [channels, height, width] of one image.
    var imageShape: [Int] { get }
    /// The posterior's mean and log-variance [B, latentSize] for images [B, C, H, W] (or flattened [B, C*H*W]).
    func encode(_ x: Tensor, labels: [Int]?) -> (mean: Tensor, logVariance: Tensor)
    /// The decoder's pre-sigmoid output, flattened to [B, C*H*W].
    func decodeLogits(_ z: Tensor, labels: [Int]?) -> Tensor
    /// The parameters of q(z|x), by name (the encoder's half of `namedParameters`).
    var encoderParameters: [(name: String, tensor: Tensor)] { get }
}

extension VariationalAutoencoder {
    /// Values per image.
    public var imageSize: Int { imageShape.reduce(1, *) }

    /// Pixel probabilities (Bernoulli) or means (Gaussian) [B, C*H*W] for codes [B, latentSize].
    public func decode(_ z: Tensor, labels: [Int]?) -> Tensor { decodeLogits(z, labels: labels).sigmoid() }

    /// The negative ELBO summed over the batch, with standard normal `noise` [B, latentSize] for the
    /// reparameterised sample z = mean + exp(logVariance / 2) * noise. Terms: "reconstruction", "kl".
    public func negativeELBO(_ x: Tensor, labels: [Int]?, noise: Tensor) -> LossTerms {
        let flat = x.reshaped([-1, imageSize])
        let (mean, logVariance) = encode(flat, labels: labels)
        let z = reparameterize(mean: mean, logVariance: logVariance, noise: noise)
        let output = decode(z, labels: labels)
        let reconstruction: Tensor
        switch likelihood {
        case .bernoulli:
            reconstruction = binaryCrossEntropy(output, flat, reduction: .sum)
        case .gaussian:
            let constant = 0.5 * Float(flat.count) * Foundation.log(2 * Float.pi * outputVariance)
            reconstruction = mseLoss(output, flat, reduction: .sum) * (0.5 / outputVariance) + constant
        }
        let kl = gaussianKLDivergence(mean: mean, logVariance: logVariance)
        return LossTerms(total: reconstruction + kl, terms: [("reconstruction", reconstruction), ("kl", kl)])
    }

    /// The one-hot rows for `labels`, checked against `classes`; nil for an unconditional model.
    public func oneHot(_ labels: [Int]?, rows: Int) -> Tensor? {
        guard classes > 0 else { return nil }
        guard let labels else { preconditionFailure("\(Self.kind): a conditional model needs labels") }
        precondition(labels.count == rows, "\(Self.kind): \(labels.count) labels for \(rows) rows")
        var data = [Float](repeating: 0, count: rows * classes)
        for (i, label) in labels.enumerated() {
            precondition(label >= 0 && label < classes, "\(Self.kind): label \(label) is outside 0..<\(classes)")
            data[i * classes + label] = 1
        }
        return Tensor(shape: [rows, classes], data: data)
    }

    /// `x` [B, n] with the one-hot labels appended (unchanged for an unconditional model).
    func conditioned(_ x: Tensor, on labels: [Int]?) -> Tensor {
        guard let y = oneHot(labels, rows: x.shape[0]) else { return x }
        return concatenate([x, y], axis: 1)
    }
}

/// The reparameterised sample z = mean + exp(logVariance / 2) * noise.
public func reparameterize(mean: Tensor, logVariance: Tensor, noise: Tensor) -> Tensor {
    mean + (logVariance * 0.5).exp() * noise
}

/// Closed-form KL(N(mean, exp(logVariance)) || N(0, I)), summed: -1/2 sum(1 + logvar - mean^2 - exp(logvar)).
public func gaussianKLDivergence(mean: Tensor, logVariance: Tensor) -> Tensor {
    (1 + logVariance - mean.squared() - logVariance.exp()).sum() * -0.5
}

/// The VAE options beyond the architecture, shared by every VAE configuration and written to JSON only when
/// they differ from the defaults (so the reference MLPVAE's configuration reads as before).
struct VAEOptions: Equatable {
    var classes = 0
    var likelihood = Likelihood.bernoulli
    var outputVariance: Float = 0.1

    enum Keys: String, CodingKey { case classes, likelihood, outputVariance }

    init(classes: Int = 0, likelihood: Likelihood = .bernoulli, outputVariance: Float = 0.1) {
        self.classes = classes
        self.likelihood = likelihood
        self.outputVariance = outputVariance
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        classes = try c.decodeIfPresent(Int.self, forKey: .classes) ?? 0
        likelihood = try c.decodeIfPresent(Likelihood.self, forKey: .likelihood) ?? .bernoulli
        outputVariance = try c.decodeIfPresent(Float.self, forKey: .outputVariance) ?? 0.1
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        if classes != 0 { try c.encode(classes, forKey: .classes) }
        if likelihood != .bernoulli {
            try c.encode(likelihood, forKey: .likelihood)
            try c.encode(outputVariance, forKey: .outputVariance)
        }
    }
}

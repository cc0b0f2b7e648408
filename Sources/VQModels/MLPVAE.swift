import VQEngine
import VQLayers

/// The variational autoencoder of the PyTorch examples (`vae`): x -> 400 -> (mu, logvar) of a 20-D Gaussian
/// q(z|x); z = mu + sigma * eps; z -> 400 -> Bernoulli means of the 784 pixels.
public final class MLPVAE: ConfigurableModel {
    public struct Configuration: Codable, Sendable, Equatable {
        public var inputSize = 784
        public var hiddenSize = 400
        public var latentSize = 20
        public init(inputSize: Int = 784, hiddenSize: Int = 400, latentSize: Int = 20) {
            self.inputSize = inputSize
            self.hiddenSize = hiddenSize
            self.latentSize = latentSize
        }
    }

    public static let kind = "mlp-vae"
    public let configuration: Configuration
    public let fc1, fc21, fc22, fc3, fc4: Linear

    public init(configuration: Configuration = .init(), rng: inout RandomGenerator) {
        self.configuration = configuration
        let c = configuration
        fc1 = Linear(c.inputSize, c.hiddenSize, rng: &rng)
        fc21 = Linear(c.hiddenSize, c.latentSize, rng: &rng)
        fc22 = Linear(c.hiddenSize, c.latentSize, rng: &rng)
        fc3 = Linear(c.latentSize, c.hiddenSize, rng: &rng)
        fc4 = Linear(c.hiddenSize, c.inputSize, rng: &rng)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("fc1", fc1) + prefixed("fc21", fc21) + prefixed("fc22", fc22) + prefixed("fc3", fc3) + prefixed("fc4", fc4)
    }

    /// The posterior's mean and log-variance for images flattened to [B, inputSize].
    public func encode(_ x: Tensor) -> (mean: Tensor, logVariance: Tensor) {
        let h = fc1(x).relu()
        return (fc21(h), fc22(h))
    }

    /// Pixel probabilities for latent codes [B, latentSize].
    public func decode(_ z: Tensor) -> Tensor { fc4(fc3(z).relu()).sigmoid() }

    /// The reparameterised sample z = mean + exp(logvar / 2) * noise.
    public static func reparameterize(mean: Tensor, logVariance: Tensor, noise: Tensor) -> Tensor {
        mean + (logVariance * 0.5).exp() * noise
    }

    /// Closed-form KL(N(mean, exp(logvar)) || N(0, I)), summed: -1/2 sum(1 + logvar - mean^2 - exp(logvar)).
    public static func klDivergence(mean: Tensor, logVariance: Tensor) -> Tensor {
        (1 + logVariance - mean.squared() - logVariance.exp()).sum() * -0.5
    }

    /// The negative ELBO summed over the batch (BCE(sum) + KL(sum), as the PyTorch example), with the given
    /// standard normal noise [B, latentSize]. Terms: "reconstruction", "kl".
    public func loss(_ x: Tensor, noise: Tensor) -> LossTerms {
        let flat = x.reshaped([-1, configuration.inputSize])
        let (mean, logVariance) = encode(flat)
        let z = Self.reparameterize(mean: mean, logVariance: logVariance, noise: noise)
        let reconstruction = binaryCrossEntropy(decode(z), flat, reduction: .sum)
        let kl = Self.klDivergence(mean: mean, logVariance: logVariance)
        return LossTerms(total: reconstruction + kl, terms: [("reconstruction", reconstruction), ("kl", kl)])
    }
}

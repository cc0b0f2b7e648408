import VQEngine
import VQLayers

/// The variational autoencoder of the PyTorch examples (`vae`): x -> 400 -> (mu, logvar) of a 20-D Gaussian
/// q(z|x); z = mu + sigma * eps; z -> 400 -> Bernoulli means of the 784 pixels. With `classes > 0` it is the
/// class-conditional VAE: the one-hot label is appended to the input of fc1 and of fc3.
public final class MLPVAE: VariationalAutoencoder {
    public struct Configuration: Codable, Sendable, Equatable {
        public var inputSize = 784
        public var hiddenSize = 400
        public var latentSize = 20
        /// Classes of the conditioning label (0: unconditional, the reference model).
        public var classes = 0
        public var likelihood = Likelihood.bernoulli
        /// The Gaussian likelihood's variance per pixel.
        public var outputVariance: Float = 0.1
        /// [channels, height, width] the flat input comes from (for pictures); not stored, MNIST-sized by default.
        public var imageShape: [Int] { inputSize == 784 ? [1, 28, 28] : [1, 1, inputSize] }

        public init(inputSize: Int = 784, hiddenSize: Int = 400, latentSize: Int = 20, classes: Int = 0,
                    likelihood: Likelihood = .bernoulli, outputVariance: Float = 0.1) {
            self.inputSize = inputSize
            self.hiddenSize = hiddenSize
            self.latentSize = latentSize
            self.classes = classes
            self.likelihood = likelihood
            self.outputVariance = outputVariance
        }

        enum CodingKeys: String, CodingKey { case inputSize, hiddenSize, latentSize }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            inputSize = try c.decode(Int.self, forKey: .inputSize)
            hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
            latentSize = try c.decode(Int.self, forKey: .latentSize)
            let options = try VAEOptions(from: decoder)
            (classes, likelihood, outputVariance) = (options.classes, options.likelihood, options.outputVariance)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(inputSize, forKey: .inputSize)
            try c.encode(hiddenSize, forKey: .hiddenSize)
            try c.encode(latentSize, forKey: .latentSize)
            try VAEOptions(classes: classes, likelihood: likelihood, outputVariance: outputVariance).encode(to: encoder)
        }
    }

    public static let kind = "mlp-vae"
    public let configuration: Configuration
    public let fc1, fc21, fc22, fc3, fc4: Linear

    public init(configuration: Configuration = .init(), rng: inout RandomGenerator) {
        self.configuration = configuration
        let c = configuration
        fc1 = Linear(c.inputSize + c.classes, c.hiddenSize, rng: &rng)
        fc21 = Linear(c.hiddenSize, c.latentSize, rng: &rng)
        fc22 = Linear(c.hiddenSize, c.latentSize, rng: &rng)
        fc3 = Linear(c.latentSize + c.classes, c.hiddenSize, rng: &rng)
        fc4 = Linear(c.hiddenSize, c.inputSize, rng: &rng)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("fc1", fc1) + prefixed("fc21", fc21) + prefixed("fc22", fc22) + prefixed("fc3", fc3) + prefixed("fc4", fc4)
    }

    public var encoderParameters: [(name: String, tensor: Tensor)] {
        prefixed("fc1", fc1) + prefixed("fc21", fc21) + prefixed("fc22", fc22)
    }

    public var latentSize: Int { configuration.latentSize }
    public var classes: Int { configuration.classes }
    public var likelihood: Likelihood { configuration.likelihood }
    public var outputVariance: Float { configuration.outputVariance }
    public var imageShape: [Int] { configuration.imageShape }

    /// The posterior's mean and log-variance for images flattened to [B, inputSize].
    public func encode(_ x: Tensor) -> (mean: Tensor, logVariance: Tensor) { encode(x, labels: nil) }

    public func encode(_ x: Tensor, labels: [Int]?) -> (mean: Tensor, logVariance: Tensor) {
        let h = fc1(conditioned(x.reshaped([-1, configuration.inputSize]), on: labels)).relu()
        return (fc21(h), fc22(h))
    }

    /// Pixel probabilities for latent codes [B, latentSize] (unconditional model).
    public func decode(_ z: Tensor) -> Tensor { decode(z, labels: nil) }

    public func decodeLogits(_ z: Tensor, labels: [Int]?) -> Tensor { fc4(fc3(conditioned(z, on: labels)).relu()) }

    /// The reparameterised sample z = mean + exp(logvar / 2) * noise.
    public static func reparameterize(mean: Tensor, logVariance: Tensor, noise: Tensor) -> Tensor {
        VQModels.reparameterize(mean: mean, logVariance: logVariance, noise: noise)
    }

    /// Closed-form KL(N(mean, exp(logvar)) || N(0, I)), summed: -1/2 sum(1 + logvar - mean^2 - exp(logvar)).
    public static func klDivergence(mean: Tensor, logVariance: Tensor) -> Tensor {
        gaussianKLDivergence(mean: mean, logVariance: logVariance)
    }

    /// The negative ELBO summed over the batch (BCE(sum) + KL(sum), as the PyTorch example), with the given
    /// standard normal noise [B, latentSize]. Terms: "reconstruction", "kl".
    public func loss(_ x: Tensor, noise: Tensor) -> LossTerms { negativeELBO(x, labels: nil, noise: noise) }
}

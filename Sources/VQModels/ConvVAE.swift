import VQEngine
import VQLayers

/// The convolutional VAE of the Keras example, in PyTorch layers: two 3x3 stride-2 convolutions (32 and 64
/// channels) down to a quarter of the image, a small dense layer, and a (by default 2-D) Gaussian latent; the
/// decoder mirrors it with transposed convolutions. With `classes > 0` the one-hot label is appended to the
/// encoder's dense input and to z.
public final class ConvVAE: VariationalAutoencoder {
    public struct Configuration: Codable, Sendable, Equatable {
        public var channels = 1
        public var height = 28
        public var width = 28
        public var hiddenChannels = 32
        public var featureChannels = 64
        /// Width of the dense layer between the convolutions and the latent (16 in the Keras example).
        public var denseSize = 16
        public var latentSize = 2
        public var classes = 0
        public var likelihood = Likelihood.bernoulli
        public var outputVariance: Float = 0.1

        public init(channels: Int = 1, height: Int = 28, width: Int = 28, hiddenChannels: Int = 32, featureChannels: Int = 64,
                    denseSize: Int = 16, latentSize: Int = 2, classes: Int = 0, likelihood: Likelihood = .bernoulli,
                    outputVariance: Float = 0.1) {
            self.channels = channels
            self.height = height
            self.width = width
            self.hiddenChannels = hiddenChannels
            self.featureChannels = featureChannels
            self.denseSize = denseSize
            self.latentSize = latentSize
            self.classes = classes
            self.likelihood = likelihood
            self.outputVariance = outputVariance
        }

        enum CodingKeys: String, CodingKey { case channels, height, width, hiddenChannels, featureChannels, denseSize, latentSize }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            channels = try c.decode(Int.self, forKey: .channels)
            height = try c.decode(Int.self, forKey: .height)
            width = try c.decode(Int.self, forKey: .width)
            hiddenChannels = try c.decode(Int.self, forKey: .hiddenChannels)
            featureChannels = try c.decode(Int.self, forKey: .featureChannels)
            denseSize = try c.decode(Int.self, forKey: .denseSize)
            latentSize = try c.decode(Int.self, forKey: .latentSize)
            let options = try VAEOptions(from: decoder)
            (classes, likelihood, outputVariance) = (options.classes, options.likelihood, options.outputVariance)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            for (key, value) in [(CodingKeys.channels, channels), (.height, height), (.width, width), (.hiddenChannels, hiddenChannels),
                                 (.featureChannels, featureChannels), (.denseSize, denseSize), (.latentSize, latentSize)] {
                try c.encode(value, forKey: key)
            }
            try VAEOptions(classes: classes, likelihood: likelihood, outputVariance: outputVariance).encode(to: encoder)
        }

        /// Values out of the encoder's convolutions per image (featureChannels x H/4 x W/4).
        public var featureSize: Int { featureChannels * (height / 4) * (width / 4) }
    }

    public static let kind = "conv-vae"
    public let configuration: Configuration
    public let enc1, enc2: Conv2d
    public let encFC, fcMean, fcLogVariance, decFC: Linear
    public let dec1, dec2, dec3: ConvTranspose2d

    /// Height and width must be multiples of 4 (two stride-2 stages); `ModelRegistry` checks configurations
    /// from files before building.
    public init(configuration: Configuration = .init(), rng: inout RandomGenerator) {
        precondition(configuration.height % 4 == 0 && configuration.width % 4 == 0,
                     "ConvVAE: height and width must be multiples of 4, found \(configuration.height)x\(configuration.width)")
        self.configuration = configuration
        let c = configuration
        enc1 = Conv2d(c.channels, c.hiddenChannels, kernelSize: 3, stride: 2, padding: 1, rng: &rng)
        enc2 = Conv2d(c.hiddenChannels, c.featureChannels, kernelSize: 3, stride: 2, padding: 1, rng: &rng)
        encFC = Linear(c.featureSize + c.classes, c.denseSize, rng: &rng)
        fcMean = Linear(c.denseSize, c.latentSize, rng: &rng)
        fcLogVariance = Linear(c.denseSize, c.latentSize, rng: &rng)
        decFC = Linear(c.latentSize + c.classes, c.featureSize, rng: &rng)
        dec1 = ConvTranspose2d(c.featureChannels, c.featureChannels, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, rng: &rng)
        dec2 = ConvTranspose2d(c.featureChannels, c.hiddenChannels, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, rng: &rng)
        dec3 = ConvTranspose2d(c.hiddenChannels, c.channels, kernelSize: 3, stride: 1, padding: 1, rng: &rng)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("enc1", enc1) + prefixed("enc2", enc2) + prefixed("enc_fc", encFC) + prefixed("fc_mu", fcMean)
            + prefixed("fc_logvar", fcLogVariance) + prefixed("dec_fc", decFC) + prefixed("dec1", dec1)
            + prefixed("dec2", dec2) + prefixed("dec3", dec3)
    }

    public var encoderParameters: [(name: String, tensor: Tensor)] {
        prefixed("enc1", enc1) + prefixed("enc2", enc2) + prefixed("enc_fc", encFC) + prefixed("fc_mu", fcMean)
            + prefixed("fc_logvar", fcLogVariance)
    }

    public var latentSize: Int { configuration.latentSize }
    public var classes: Int { configuration.classes }
    public var likelihood: Likelihood { configuration.likelihood }
    public var outputVariance: Float { configuration.outputVariance }
    public var imageShape: [Int] { [configuration.channels, configuration.height, configuration.width] }

    public func encode(_ x: Tensor, labels: [Int]?) -> (mean: Tensor, logVariance: Tensor) {
        let c = configuration
        let images = x.reshaped([-1, c.channels, c.height, c.width])
        let features = enc2(enc1(images).relu()).relu().reshaped([-1, c.featureSize])
        let h = encFC(conditioned(features, on: labels)).relu()
        return (fcMean(h), fcLogVariance(h))
    }

    public func decodeLogits(_ z: Tensor, labels: [Int]?) -> Tensor {
        let c = configuration
        let h = decFC(conditioned(z, on: labels)).relu().reshaped([-1, c.featureChannels, c.height / 4, c.width / 4])
        return dec3(dec2(dec1(h).relu()).relu()).reshaped([-1, c.channels * c.height * c.width])
    }
}

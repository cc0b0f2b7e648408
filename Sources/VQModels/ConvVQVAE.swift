import VQEngine
import VQLayers

/// The reference convolutional VQ-VAE for 28x28 MNIST: two stride-2 convolutions and one 3x3 down to a
/// 7x7 grid of 64-D vectors, a 512-code quantiser, and the mirror image in transposed convolutions.
public final class ConvVQVAE: ImageTokenizerModel {
    public struct Configuration: Codable, Sendable, Equatable {
        public var channels = 1
        public var hiddenChannels = 32
        public var latentChannels = 64
        public var codes = 512
        public var commitmentWeight: Float = 0.25
        /// The quantiser (EMA, dead-code restarts, k-means, Gumbel, residual levels); nil is the reference's plain
        /// codebook with `commitmentWeight`. When set, its own commitment weight applies.
        public var quantizer: QuantizerOptions?
        public init(channels: Int = 1, hiddenChannels: Int = 32, latentChannels: Int = 64, codes: Int = 512,
                    commitmentWeight: Float = 0.25, quantizer: QuantizerOptions? = nil) {
            self.channels = channels
            self.hiddenChannels = hiddenChannels
            self.latentChannels = latentChannels
            self.codes = codes
            self.commitmentWeight = commitmentWeight
            self.quantizer = quantizer
        }

        /// The quantiser this configuration builds.
        public var quantizerOptions: QuantizerOptions { quantizer ?? QuantizerOptions(commitmentWeight: commitmentWeight) }
    }

    public static let kind = "conv-vqvae"
    public let configuration: Configuration
    public let enc1, enc2, enc3: Conv2d
    public let vq: any Quantizer
    public let dec1, dec2, dec3: ConvTranspose2d

    public init(configuration: Configuration = .init(), rng: inout RandomGenerator) {
        self.configuration = configuration
        let c = configuration
        enc1 = Conv2d(c.channels, c.hiddenChannels, kernelSize: 4, stride: 2, padding: 1, rng: &rng)
        enc2 = Conv2d(c.hiddenChannels, c.latentChannels, kernelSize: 4, stride: 2, padding: 1, rng: &rng)
        enc3 = Conv2d(c.latentChannels, c.latentChannels, kernelSize: 3, stride: 1, padding: 1, rng: &rng)
        vq = makeQuantizer(c.quantizerOptions, codes: c.codes, dimension: c.latentChannels, rng: &rng)
        dec1 = ConvTranspose2d(c.latentChannels, c.latentChannels, kernelSize: 3, stride: 1, padding: 1, rng: &rng)
        dec2 = ConvTranspose2d(c.latentChannels, c.hiddenChannels, kernelSize: 4, stride: 2, padding: 1, rng: &rng)
        dec3 = ConvTranspose2d(c.hiddenChannels, c.channels, kernelSize: 4, stride: 2, padding: 1, rng: &rng)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        prefixed("enc1", enc1) + prefixed("enc2", enc2) + prefixed("enc3", enc3) + prefixed("vq", vq)
            + prefixed("dec1", dec1) + prefixed("dec2", dec2) + prefixed("dec3", dec3)
    }

    /// z_e for images [B, C, H, W] in [0, 1]: [B, latentChannels, H/4, W/4].
    public func encode(_ x: Tensor) -> Tensor { enc3(enc2.withReLU(enc1.withReLU(x))) }

    /// Images (probabilities in [0, 1]) from quantised latents.
    public func decode(_ z: Tensor) -> Tensor { dec3(dec2.withReLU(dec1.withReLU(z))).sigmoid() }

    public var imageChannels: Int { configuration.channels }
    public var downsampling: Int { 4 }
    public var quantizer: any Quantizer { vq }
    public var quantizerPath: String { "vq" }
    public var decoderParameterNames: [String] {
        vq.codebookParameterNames.map { "vq.\($0)" } + (prefixed("dec1", dec1) + prefixed("dec2", dec2) + prefixed("dec3", dec3)).map(\.name)
    }

    public struct Output {
        public let reconstruction: Tensor
        /// The chosen codes of the first level, row-major over [B, H, W].
        public let indices: [Int]
        public let loss: LossTerms
    }

    /// Reconstruction and loss: mse(x_hat, x) + codebook + beta * commitment (for the plain quantiser).
    /// Terms: "reconstruction", then the quantiser's ("codebook", "commitment").
    public func callAsFunction(_ x: Tensor) -> Output {
        let out = trainingOutput(x)
        return Output(reconstruction: out.reconstruction, indices: out.indices[0], loss: out.loss)
    }
}

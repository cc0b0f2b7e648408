import VQEngine
import VQLayers

/// A fully convolutional VQ-VAE for RGB photographs, in the style of the VQ-VAE paper: strided 4x4
/// convolutions down by 4 or 8, residual blocks (ReLU, 3x3, ReLU, 1x1) at the token resolution, a 1x1 map to
/// the code dimension, and the mirror image with transposed convolutions. Any image whose sides are
/// multiples of `downsampling` passes through; the tokenizer pads and crops everything else.
///
/// Parameter paths: `enc.in`, `enc.down.{i}`, `enc.res.{j}.conv1|conv2`, `enc.out`, `vq.*`, `dec.in`,
/// `dec.res.{j}.conv1|conv2`, `dec.up.{i}`, `dec.out`.
public final class PhotoVQVAE: ImageTokenizerModel {
    public struct Configuration: Codable, Sendable, Equatable {
        public var channels = 3
        /// Channels after the first convolution; each downsampling stage doubles them up to `maximumChannels`.
        public var hiddenChannels = 64
        public var maximumChannels = 128
        /// 4 or 8 (two or three stride-2 stages).
        public var downsampling = 8
        public var residualBlocks = 2
        public var latentChannels = 64
        public var codes = 1024
        public var quantizer = QuantizerOptions(kind: .ema, levels: 4, deadCodeSteps: 200, kmeansInit: true, levelDropout: 0.5)

        public init(channels: Int = 3, hiddenChannels: Int = 64, maximumChannels: Int = 128, downsampling: Int = 8,
                    residualBlocks: Int = 2, latentChannels: Int = 64, codes: Int = 1024,
                    quantizer: QuantizerOptions = QuantizerOptions(kind: .ema, levels: 4, deadCodeSteps: 200, kmeansInit: true, levelDropout: 0.5)) {
            self.channels = channels
            self.hiddenChannels = hiddenChannels
            self.maximumChannels = maximumChannels
            self.downsampling = downsampling
            self.residualBlocks = residualBlocks
            self.latentChannels = latentChannels
            self.codes = codes
            self.quantizer = quantizer
        }

        /// Channels at each resolution, from the input resolution down to the token grid.
        public var stageChannels: [Int] {
            let stages = downsampling == 8 ? 3 : 2
            return (0...stages).map { Swift.min(hiddenChannels << $0, maximumChannels) }
        }

        /// A description of what is wrong, or nil.
        public var problem: String? {
            if downsampling != 4 && downsampling != 8 { return "downsampling is \(downsampling); expected 4 or 8" }
            for (name, v) in [("channels", channels), ("hiddenChannels", hiddenChannels), ("maximumChannels", maximumChannels),
                              ("latentChannels", latentChannels), ("codes", codes)] where v < 1 || v > 65_536 {
                return "\(name) is \(v); expected 1...65536"
            }
            if residualBlocks < 0 || residualBlocks > 64 { return "residualBlocks is \(residualBlocks); expected 0...64" }
            return quantizer.problem
        }
    }

    /// ReLU, 3x3 convolution, ReLU, 1x1 convolution, added to the input.
    public final class ResidualBlock: Layer {
        public let conv1: Conv2d
        public let conv2: Conv2d
        init(_ channels: Int, rng: inout RandomGenerator) {
            conv1 = Conv2d(channels, channels, kernelSize: 3, padding: 1, rng: &rng)
            conv2 = Conv2d(channels, channels, kernelSize: 1, rng: &rng)
        }
        public var namedParameters: [(name: String, tensor: Tensor)] { prefixed("conv1", conv1) + prefixed("conv2", conv2) }
        public func callAsFunction(_ x: Tensor) -> Tensor { x + conv2(conv1.withReLU(x.relu())) }
    }

    public static let kind = "photo-vqvae"
    public let configuration: Configuration
    public let encoderIn: Conv2d
    public let encoderDown: [Conv2d]
    public let encoderBlocks: [ResidualBlock]
    public let encoderOut: Conv2d
    public let vq: any Quantizer
    public let decoderIn: Conv2d
    public let decoderBlocks: [ResidualBlock]
    public let decoderUp: [ConvTranspose2d]
    public let decoderOut: Conv2d

    public init(configuration: Configuration = .init(), rng: inout RandomGenerator) {
        self.configuration = configuration
        let c = configuration, s = configuration.stageChannels
        encoderIn = Conv2d(c.channels, s[0], kernelSize: 3, padding: 1, rng: &rng)
        encoderDown = (0..<(s.count - 1)).map { Conv2d(s[$0], s[$0 + 1], kernelSize: 4, stride: 2, padding: 1, rng: &rng) }
        encoderBlocks = (0..<c.residualBlocks).map { _ in ResidualBlock(s.last!, rng: &rng) }
        encoderOut = Conv2d(s.last!, c.latentChannels, kernelSize: 1, rng: &rng)
        vq = makeQuantizer(c.quantizer, codes: c.codes, dimension: c.latentChannels, rng: &rng)
        decoderIn = Conv2d(c.latentChannels, s.last!, kernelSize: 3, padding: 1, rng: &rng)
        decoderBlocks = (0..<c.residualBlocks).map { _ in ResidualBlock(s.last!, rng: &rng) }
        decoderUp = (0..<(s.count - 1)).reversed().map { ConvTranspose2d(s[$0 + 1], s[$0], kernelSize: 4, stride: 2, padding: 1, rng: &rng) }
        decoderOut = Conv2d(s[0], c.channels, kernelSize: 3, padding: 1, rng: &rng)
    }

    public var imageChannels: Int { configuration.channels }
    public var downsampling: Int { configuration.downsampling }
    public var quantizer: any Quantizer { vq }
    public var quantizerPath: String { "vq" }

    private var encoderParameters: [(name: String, tensor: Tensor)] {
        prefixed("enc.in", encoderIn) + encoderDown.enumerated().flatMap { prefixed("enc.down.\($0.offset)", $0.element) }
            + encoderBlocks.enumerated().flatMap { prefixed("enc.res.\($0.offset)", $0.element) } + prefixed("enc.out", encoderOut)
    }

    private var decoderParameters: [(name: String, tensor: Tensor)] {
        prefixed("dec.in", decoderIn) + decoderBlocks.enumerated().flatMap { prefixed("dec.res.\($0.offset)", $0.element) }
            + decoderUp.enumerated().flatMap { prefixed("dec.up.\($0.offset)", $0.element) } + prefixed("dec.out", decoderOut)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        encoderParameters + prefixed("vq", vq) + decoderParameters
    }

    public var decoderParameterNames: [String] {
        vq.codebookParameterNames.map { "vq.\($0)" } + decoderParameters.map(\.name)
    }

    public func encode(_ images: Tensor) -> Tensor {
        var h = encoderIn(images)
        for down in encoderDown { h = down(h.relu()) }
        for block in encoderBlocks { h = block(h) }
        return encoderOut(h.relu())
    }

    /// Images from latents; the output is unbounded (clamped when converted to pixels).
    public func decode(_ latents: Tensor) -> Tensor {
        var h = decoderIn(latents)
        for block in decoderBlocks { h = block(h) }
        for up in decoderUp { h = up(h.relu()) }
        return decoderOut(h.relu())
    }
}

import Foundation
import VQEngine
import VQLayers

/// A VQ-VAE that turns images into grids of discrete codes and back: what the tokenizer library and the
/// training loop need from a model, whatever its architecture.
public protocol ImageTokenizerModel: ConfigurableModel {
    /// Colour channels of the images it takes (1 gray, 3 RGB).
    var imageChannels: Int { get }
    /// Image pixels per token along each axis; inputs must be multiples of it.
    var downsampling: Int { get }
    var quantizer: any Quantizer { get }
    /// Encoder outputs z_e [B, D, H/f, W/f] for images [B, C, H, W] in [0, 1].
    func encode(_ images: Tensor) -> Tensor
    /// Images [B, C, H, W] (values near [0, 1]) from latents [B, D, h, w].
    func decode(_ latents: Tensor) -> Tensor
    /// Full paths of the parameters `decode` and `quantizer.embed` read (codebooks and decoder): what a token
    /// stream depends on, and what a model fingerprint covers.
    var decoderParameterNames: [String] { get }
    /// Parameters of the quantizer, path prefix included ("vq").
    var quantizerPath: String { get }
}

/// A training pass: reconstruction, codes, and the objective with its terms.
public struct TokenizerTrainingOutput {
    public let reconstruction: Tensor
    public let indices: [[Int]]
    public let loss: LossTerms
}

extension ImageTokenizerModel {
    /// mse(x_hat, x) + the quantiser's loss. Terms: "reconstruction" and the quantiser's own.
    public func trainingOutput(_ images: Tensor) -> TokenizerTrainingOutput {
        let q = quantizer(encode(images))
        let reconstruction = decode(q.quantized)
        let mse = mseLoss(reconstruction, images)
        return TokenizerTrainingOutput(reconstruction: reconstruction, indices: q.indices,
                                       loss: LossTerms(total: mse + q.loss, terms: [("reconstruction", mse)] + q.terms))
    }

    public var codebookSizes: [Int] { quantizer.codebookSizes }
}

/// Why a tokenizer model could not be built from a kind and configuration.
public enum TokenizerModelError: Error, CustomStringConvertible, Equatable {
    case unknownKind(String)
    case invalidConfiguration(kind: String, detail: String)

    public var description: String {
        switch self {
        case let .unknownKind(kind):
            return "model kind '\(kind)' is not an image tokenizer; expected one of \(TokenizerModels.kinds.joined(separator: ", "))"
        case let .invalidConfiguration(kind, detail):
            return "invalid \(kind) configuration: \(detail)"
        }
    }
}

/// The VQ-VAE kinds that can serve as image tokenizers, built from their recorded configurations.
public enum TokenizerModels {
    public static let kinds = [ConvVQVAE.kind, PhotoVQVAE.kind]

    /// A freshly initialised model (weights to be overwritten from a checkpoint). Configurations are
    /// checked first, so a damaged file cannot make a constructor trap or allocate without bound.
    public static func make(kind: String, configurationJSON json: String, seed: UInt64 = 0) throws(TokenizerModelError) -> any ImageTokenizerModel {
        var rng = RandomGenerator(seed: seed)
        switch kind {
        case ConvVQVAE.kind:
            let c = try decode(ConvVQVAE.Configuration.self, kind: kind, json: json)
            for (name, v) in [("channels", c.channels), ("hiddenChannels", c.hiddenChannels), ("latentChannels", c.latentChannels),
                              ("codes", c.codes)] where v < 1 || v > 65_536 {
                throw .invalidConfiguration(kind: kind, detail: "\(name) is \(v); expected 1...65536")
            }
            if let problem = c.quantizerOptions.problem { throw .invalidConfiguration(kind: kind, detail: problem) }
            return ConvVQVAE(configuration: c, rng: &rng)
        case PhotoVQVAE.kind:
            let c = try decode(PhotoVQVAE.Configuration.self, kind: kind, json: json)
            if let problem = c.problem { throw .invalidConfiguration(kind: kind, detail: problem) }
            return PhotoVQVAE(configuration: c, rng: &rng)
        default:
            throw .unknownKind(kind)
        }
    }

    static func decode<C: Decodable>(_ type: C.Type, kind: String, json: String) throws(TokenizerModelError) -> C {
        do {
            return try JSONDecoder().decode(C.self, from: Data(json.utf8))
        } catch {
            throw .invalidConfiguration(kind: kind, detail: "cannot decode \(json.prefix(200)): \(error)")
        }
    }
}
